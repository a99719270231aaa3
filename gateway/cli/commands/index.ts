/**
 * The command table: names (a public interface), summaries, and a lazy loader each, so
 * `meterledger meter token` never loads LevelDB or aedes.
 */
import type { CommandSpec } from '../args.js';

export interface CommandEntry {
  /** One or two words: `start`, `meter token`. */
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandSpec>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'init', summary: 'create a dev chain in a data dir', load: async () => (await import('./init.js')).initCommand },
  { name: 'start', summary: 'run the gateway (ledger node, MQTT broker, HTTP API)', load: async () => (await import('./start.js')).startCommand },
  { name: 'testnet', summary: 'write a local cluster: shared genesis and one data dir per gateway', load: async () => (await import('./testnet.js')).testnetCommand },
  { name: 'keygen', summary: 'make this party\'s own node (or operator, meter) key and print only its public key', load: async () => (await import('./keygen.js')).keygenCommand },
  { name: 'genesis new', summary: 'start a draft genesis for a consortium', load: async () => (await import('./genesis.js')).genesisNewCommand },
  { name: 'genesis add-validator', summary: 'add a validator\'s public key to a draft genesis', load: async () => (await import('./genesis.js')).genesisAddValidatorCommand },
  { name: 'genesis add-observer', summary: 'add an observer\'s public key to a draft genesis', load: async () => (await import('./genesis.js')).genesisAddObserverCommand },
  { name: 'genesis add-operator', summary: 'add an operator\'s public key to a draft genesis', load: async () => (await import('./genesis.js')).genesisAddOperatorCommand },
  { name: 'genesis add-meter', summary: 'add meters\' public keys to a draft genesis', load: async () => (await import('./genesis.js')).genesisAddMeterCommand },
  { name: 'genesis finalize', summary: 'write the genesis from a draft and print its hash', load: async () => (await import('./genesis.js')).genesisFinalizeCommand },
  { name: 'genesis show', summary: 'show a genesis (or draft) and its hash', load: async () => (await import('./genesis.js')).genesisShowCommand },
  { name: 'genesis hash', summary: 'print a genesis file\'s hash, to check it before starting', load: async () => (await import('./genesis.js')).genesisHashCommand },
  { name: 'genesis install', summary: 'put the agreed genesis into a data dir (hash checked and pinned)', load: async () => (await import('./genesis-install.js')).genesisInstallCommand },
  { name: 'validator add', summary: 'draft the addition of a validator to the set', load: async () => (await import('./validator.js')).validatorAddCommand },
  { name: 'validator remove', summary: 'draft the removal of a validator', load: async () => (await import('./validator.js')).validatorRemoveCommand },
  { name: 'validator power', summary: 'draft a change of a validator\'s voting power', load: async () => (await import('./validator.js')).validatorPowerCommand },
  { name: 'validator rotate-key', summary: 'draft the rotation of a validator\'s node key', load: async () => (await import('./validator.js')).validatorRotateKeyCommand },
  { name: 'validator approve', summary: 'approve a drafted set change with this gateway\'s node key', load: async () => (await import('./validator.js')).validatorApproveCommand },
  { name: 'validator possess', summary: 'sign a drafted add or rotation with the new node key', load: async () => (await import('./validator.js')).validatorPossessCommand },
  { name: 'validator seal', summary: 'write the approved set change as its signed transaction', load: async () => (await import('./validator.js')).validatorSealCommand },
  { name: 'simulate', summary: 'drive a gateway with simulated meters over MQTT', load: async () => (await import('./simulate.js')).simulateCommand },
  { name: 'simulate-xmpp', summary: 'drive a gateway with simulated meters over XMPP', load: async () => (await import('./simulate-xmpp-command.js')).simulateXmppCommand },
  { name: 'meter sign', summary: 'sign a reading as a meter', load: async () => (await import('./meter.js')).meterSignCommand },
  { name: 'meter token', summary: 'print a meter\'s MQTT username and password', load: async () => (await import('./meter.js')).meterTokenCommand },
  { name: 'meter register', summary: 'make a meter key and register it through a gateway', load: async () => (await import('./meter.js')).meterRegisterCommand },
  { name: 'meter rotate', summary: 'give a meter a new key through a gateway', load: async () => (await import('./meter.js')).meterRotateCommand },
  { name: 'meter revoke', summary: 'revoke a meter through a gateway', load: async () => (await import('./meter.js')).meterRevokeCommand },
  { name: 'account enrol-code', summary: 'make a one-time code an owner enrols a browser key with', load: async () => (await import('./account-enrol.js')).accountEnrolCodeCommand },
  { name: 'verify', summary: 'audit a chain, local or remote, from its genesis', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'config show', summary: 'print the effective configuration and where each value comes from', load: async () => (await import('./config.js')).configShowCommand },
  { name: 'config check', summary: 'check a configuration (values, sections, the files it names) without starting', load: async () => (await import('./config.js')).configCheckCommand },
  { name: 'hash-password', summary: 'print the scrypt hash of a local MQTT account password (read from stdin)', load: async () => (await import('./hash-password.js')).hashPasswordCommand },
  { name: 'bill verify', summary: 'check a bill bundle offline: receipts against the genesis, the bill recomputed', load: async () => (await import('./bill-verify.js')).billVerifyCommand },
  { name: 'bill issue', summary: 'compute a meter\'s bill for a period and submit it as biller', load: async () => (await import('./billing.js')).billIssueCommand },
  { name: 'bill show', summary: 'show a committed bill: lines, total, payment, dispute', load: async () => (await import('./billing.js')).billShowCommand },
  { name: 'account open', summary: 'open an account with its owner\'s public key (registrar)', load: async () => (await import('./account.js')).accountOpenCommand },
  { name: 'account show', summary: 'show an account\'s balance, key epoch and meters', load: async () => (await import('./account.js')).accountShowCommand },
  { name: 'account rotate-key', summary: 'give an account a new owner key (registrar; a lost phone)', load: async () => (await import('./account.js')).accountRotateKeyCommand },
  { name: 'deposit', summary: 'credit an account with money a custodian received (idempotent by reference)', load: async () => (await import('./billing.js')).depositCommand },
  { name: 'tariff publish', summary: 'publish a JSON tariff version (biller) and print its id', load: async () => (await import('./billing.js')).tariffPublishCommand },
  { name: 'agreement set', summary: 'bind a meter to a tariff from an instant (biller)', load: async () => (await import('./billing.js')).agreementSetCommand },
  { name: 'mandate sign', summary: 'let an account\'s meters pay a payee up to caps (the owner\'s key)', load: async () => (await import('./billing.js')).mandateSignCommand },
  { name: 'mandate revoke', summary: 'revoke an account\'s mandate for a payee (the owner\'s key)', load: async () => (await import('./billing.js')).mandateRevokeCommand },
  { name: 'pay', summary: 'pay a bill from the owner\'s account (the owner\'s key)', load: async () => (await import('./billing.js')).payCommand },
  { name: 'dispute', summary: 'dispute a bill (the owner\'s key)', load: async () => (await import('./billing.js')).disputeCommand },
  { name: 'dispute answer', summary: 'answer a dispute as the bill\'s biller: a credit note or a rejection', load: async () => (await import('./dispute-answer.js')).disputeAnswerCommand },
  { name: 'withdraw', summary: 'debit an account with money a custodian paid out (idempotent by reference)', load: async () => (await import('./withdraw.js')).withdrawCommand },
  { name: 'reading decrypt', summary: 'open sealed readings with a recipient key file', load: async () => (await import('./reading.js')).readingDecryptCommand },
  { name: 'reading erase', summary: 'erase a recipient key (file, and the running gateway\'s copy)', load: async () => (await import('./reading.js')).readingEraseCommand },
  { name: 'receipt verify', summary: 'verify a receipt offline with the genesis file', load: async () => (await import('./receipt.js')).receiptVerifyCommand },
];

/** Groups of two-word commands (`meter`, `receipt`). */
export const GROUPS: readonly string[] = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!))];
