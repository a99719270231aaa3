/**
 * `meterledger account open|show|rotate-key` (docs/billing.md §13.6): a registrar opens an
 * account with its owner's public key and rotates it (a lost phone); the owner (a
 * session signed with its key) or the operator reads its balance, key epoch and meters.
 */
import { LedgerTxType, parseGenesis } from '../../../protocols/index.js';
import { GatewayError } from '../../errors.js';
import type { Alg } from '../../../protocols/index.js';
import { type CommandSpec, type OptionSpec, type ParsedArgs, need, out } from '../args.js';
import { adminToken, needGatewayUrl } from '../client-env.js';
import { getJson, getJsonOrUndefined } from '../http-client.js';
import { formatAmount, idFlag, loadPublicKey, operatorOptions, readView, readerOptions, submitAsOperator } from '../billing-common.js';

interface AccountView {
  account: string; alg: string; publicKey: string; keyEpoch: number; balance: string; meters: string[];
}

const accountOpt = { type: 'string', value: 'ID', required: true, help: 'account id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})' } as const;
const ownerKeyHelp = 'the owner\'s public key: a PEM public key (SPKI, e.g. WebCrypto exportKey("spki") or openssl pkey -pubout) or the owner\'s key file (only its public half is read); Ed25519 or ES256';

/** Flags of a registrar's transaction that binds an owner key to an account (open, rotate-key). */
function ownerKeyOptions(keyHelp: string): Record<string, OptionSpec> {
  return {
    ...operatorOptions('registrar'),
    account: accountOpt,
    'owner-key': { type: 'string', value: 'FILE', required: true, help: keyHelp },
  };
}

/** The account and the owner's public key that open and rotate-key bind. */
function accountAndKey(args: ParsedArgs, command: string): { account: string; key: { alg: Alg; publicKey: Uint8Array } } {
  const account = idFlag(args, 'account', command);
  return { account, key: loadPublicKey(need(args, 'owner-key', command)) };
}

export const accountOpenCommand: CommandSpec = {
  name: 'account open',
  summary: 'Open an account with its owner\'s public key, signed as registrar by keys/operator.key.',
  options: ownerKeyOptions(ownerKeyHelp),
  details: 'The account starts at balance 0 and key epoch 0; only that key signs the owner\'s transactions\n' +
    '(mandates, payments, disputes) and opens its sessions. An id already open is E_ACCOUNT_EXISTS.',
  async run(args) {
    const cmd = 'account open';
    const { account, key } = accountAndKey(args, cmd);
    const { txHash } = await submitAsOperator(args, cmd, () => ({ type: LedgerTxType.AccountOpen, time: Date.now(), account, alg: key.alg, publicKey: key.publicKey }));
    out(`accepted: open account ${account} (tx ${txHash})`);
    return 0;
  },
};

export const accountShowCommand: CommandSpec = {
  name: 'account show',
  summary: 'Show an account: balance, key epoch and the meters it owns (committed state).',
  options: {
    account: accountOpt,
    ...readerOptions('the owner\'s key file: read as the owner, through a session it signs (else the operator\'s admin token)'),
  },
  async run(args) {
    const cmd = 'account show';
    const account = idFlag(args, 'account', cmd);
    const read = await readView<AccountView>(args, cmd, `/api/v1/accounts/${encodeURIComponent(account)}`, account);
    if (!read) return 0;
    const { http, view: a } = read;
    const genesis = parseGenesis(await getJson<unknown>(http, '/api/v1/genesis'));
    out(`account     ${a.account}`);
    out(`balance     ${formatAmount(a.balance, genesis.currency)} (${a.balance} minor units)`);
    out(`key         ${a.alg} ${a.publicKey}, epoch ${a.keyEpoch}`);
    out(`meters      ${a.meters.length === 0 ? '(none)' : a.meters.join(' ')}`);
    return 0;
  },
};

export const accountRotateKeyCommand: CommandSpec = {
  name: 'account rotate-key',
  summary: 'Give an account a new owner key (a lost phone), signed as registrar: the key epoch goes up by one.',
  options: ownerKeyOptions(`the new key: ${ownerKeyHelp}`),
  details: 'The epoch is one above the account\'s current one, read from GET /api/v1/accounts/ID with the\n' +
    'admin token; from then on only the new key signs for the account.',
  async run(args) {
    const cmd = 'account rotate-key';
    const { account, key } = accountAndKey(args, cmd);
    const http = needGatewayUrl(args, cmd);
    const view = await getJsonOrUndefined<AccountView>(http, `/api/v1/accounts/${encodeURIComponent(account)}`, adminToken(args, cmd));
    if (!view) throw new GatewayError('E_ACCOUNT_NOT_FOUND', `the gateway knows no account "${account}"`);
    const keyEpoch = view.keyEpoch + 1;
    const { txHash } = await submitAsOperator(args, cmd, () => ({ type: LedgerTxType.AccountRotate, time: Date.now(), account, alg: key.alg, publicKey: key.publicKey, keyEpoch }));
    out(`accepted: rotate the key of account ${account} to epoch ${keyEpoch} (tx ${txHash})`);
    return 0;
  },
};
