/**
 * `meterledger validator add|remove|power|rotate-key|approve|possess|seal`: the operators'
 * side of a validator-set change (docs/protocol.md §13, docs/consensus.md "Changing the
 * validator set"). A coordinator writes the change to a draft file (public: it holds no
 * secret); each approving party signs it with its own node key, in its own data dir; the
 * new key's holder signs possession (add, rotate-key); one approver (for a rotation, the
 * rotated validator, old key) seals it into the type 20 transaction. Keys are read from
 * their files, never from the command line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  Alg, type Genesis, type ValidatorSetChange, type ValidatorSetTxBody, ValidatorSetOp, VALSET_TX_TYPE, approvalProblem, approvalSignBytes,
  applySetChange, decodeSetChanges, encodeValidatorSetTxBody, followSetChanges, fromHex, signCoseSign1, signMessage, toHex,
} from '../../../protocols/index.js';
import { dataPaths, loadGenesisFile } from '../../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, type ParsedArgs, intFlag, need, optionalString, out } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';
import { readCards } from '../key-card.js';

const OPS = { add: ValidatorSetOp.Add, remove: ValidatorSetOp.Remove, power: ValidatorSetOp.Power, 'rotate-key': ValidatorSetOp.RotateKey } as const;
type OpName = keyof typeof OPS;

/** The draft file: the change, the approvals so far (id -> signature hex), the possession signature. */
interface Draft {
  chainId: string;
  seq: number;
  op: OpName;
  validator: string;
  power?: number;
  publicKey?: string;
  approvals: Record<string, string>;
  possession?: string;
}

const change = (d: Draft): ValidatorSetChange => ({
  seq: d.seq, op: OPS[d.op], validator: d.validator,
  ...(d.power !== undefined ? { power: d.power } : {}), ...(d.publicKey !== undefined ? { publicKey: fromHex(d.publicKey) } : {}),
});

function readDraft(path: string): Draft {
  let d: Draft;
  try {
    d = JSON.parse(readFileSync(path, 'utf8')) as Draft;
  } catch (cause) {
    throw new GatewayError('E_IO', `cannot read the change draft ${path}: ${(cause as Error).message}`, { cause });
  }
  if (typeof d.chainId !== 'string' || !Number.isSafeInteger(d.seq) || !(d.op in OPS) || typeof d.validator !== 'string' || typeof d.approvals !== 'object') {
    throw new GatewayError('E_VALSET_INVALID', `${path} is not a validator-set change draft`);
  }
  return d;
}

const writeDraft = (path: string, d: Draft): void => writeFileSync(path, `${JSON.stringify(d, null, 2)}\n`);

const genesisOf = (args: ParsedArgs): Genesis => {
  const g = optionalString(args, 'genesis');
  const dir = optionalString(args, 'data-dir');
  if (g !== undefined) return loadGenesisFile(resolve(g));
  if (dir !== undefined) return loadDataDirGenesis(resolve(dir));
  throw new UsageError('give --genesis F or --data-dir D');
};

/** The set the change applies to: genesis's, after the changes committed so far (--set-changes C). */
function latestSet(args: ParsedArgs, genesis: Genesis): Genesis['validators'] {
  const c = optionalString(args, 'set-changes');
  return c === undefined ? genesis.validators : followSetChanges(genesis, decodeSetChanges(new Uint8Array(readFileSync(resolve(c))))).latest;
}

const nodeKey = (dataDir: string): KeyPair => loadKeyFile(dataPaths(resolve(dataDir)).validatorKey);

const setOptions = {
  genesis: { type: 'string', value: 'F', help: 'the chain\'s genesis file' },
  'data-dir': { type: 'string', value: 'D', help: 'use <D>/genesis.json instead of --genesis' },
  'set-changes': { type: 'string', value: 'C', help: 'the set changes committed so far (CBOR array of their receipts, docs/protocol.md §13.5)' },
  seq: { type: 'string', value: 'N', help: 'the change\'s number: one more than the changes committed so far (default: so computed)' },
} as const;

function proposeCommand(op: OpName, summary: string, extra: CommandSpec['options']): CommandSpec {
  const name = `validator ${op}`;
  return {
    name, summary, positionals: [{ name: 'DRAFT', help: 'the change draft file to write' }], options: { ...setOptions, ...extra },
    async run(args) {
      const genesis = genesisOf(args);
      const c = optionalString(args, 'set-changes');
      const done = c === undefined ? 0 : decodeSetChanges(new Uint8Array(readFileSync(resolve(c)))).length;
      const seq = intFlag(args, 'seq', name, 1, Number.MAX_SAFE_INTEGER, done + 1)!;
      let validator = optionalString(args, 'id');
      let publicKey: string | undefined;
      if (op === 'add' || op === 'rotate-key') {
        const cards = readCards(resolve(need(args, 'card', name)));
        if (cards.length !== 1 || cards[0]!.role !== 'node') throw new GatewayError('E_CARD_INVALID', '--card must hold one node key card (meterledger keygen --json)');
        publicKey = cards[0]!.publicKey;
        if (op === 'add') validator ??= cards[0]!.id;
      }
      if (validator === undefined) throw new UsageError(`give --id (see meterledger ${name} --help)`);
      const power = op === 'add' || op === 'power' ? intFlag(args, 'power', name, 1, 2 ** 50, op === 'add' ? 1 : undefined) : undefined;
      if (op === 'power' && power === undefined) throw new UsageError('give --power N');
      const d: Draft = { chainId: genesis.chainId, seq, op, validator, ...(power !== undefined ? { power } : {}), ...(publicKey ? { publicKey } : {}), approvals: {} };
      applySetChange(latestSet(args, genesis), change(d)); // E_VALSET_INVALID now rather than after the signatures
      writeDraft(args.positionals[0]!, d);
      out(`wrote ${args.positionals[0]}: ${op} ${validator}${power !== undefined ? ` power ${power}` : ''}, change ${seq}; now each approver runs meterledger validator approve ${args.positionals[0]} --data-dir D`);
      return 0;
    },
  };
}

export const validatorAddCommand = proposeCommand('add', 'draft the addition of a validator (its node key card)', {
  card: { type: 'string', value: 'F', help: 'the new validator\'s node key card' },
  id: { type: 'string', value: 'ID', help: 'its id (default: the card\'s)' },
  power: { type: 'string', value: 'N', help: 'its voting power (default 1)' },
});
export const validatorRemoveCommand = proposeCommand('remove', 'draft the removal of a validator', { id: { type: 'string', value: 'ID', help: 'the validator to remove' } });
export const validatorPowerCommand = proposeCommand('power', 'draft a change of a validator\'s voting power', {
  id: { type: 'string', value: 'ID', help: 'the validator' }, power: { type: 'string', value: 'N', help: 'its new power' },
});
export const validatorRotateKeyCommand = proposeCommand('rotate-key', 'draft the rotation of a validator\'s node key', {
  id: { type: 'string', value: 'ID', help: 'the validator' }, card: { type: 'string', value: 'F', help: 'the card of its new node key' },
});

/** The id under which the key of `dataDir` is in the set. */
function memberOf(set: Genesis['validators'], key: KeyPair): string {
  const v = set.find((x) => x.publicKey === toHex(key.publicKey));
  if (!v) throw new GatewayError('E_NOT_IN_GENESIS', 'this data dir\'s node key is no validator of the current set');
  return v.id;
}

export const validatorApproveCommand: CommandSpec = {
  name: 'validator approve',
  summary: 'approve a drafted validator-set change with this gateway\'s node key',
  positionals: [{ name: 'DRAFT', help: 'the change draft' }],
  options: { 'data-dir': { type: 'string', value: 'D', help: 'the approving gateway\'s data dir (its genesis and node key)' }, 'set-changes': setOptions['set-changes'] },
  async run(args) {
    const dir = need(args, 'data-dir', 'validator approve');
    const d = readDraft(args.positionals[0]!);
    const key = nodeKey(dir);
    const id = memberOf(latestSet(args, loadDataDirGenesis(resolve(dir))), key);
    d.approvals[id] = toHex(signMessage(Alg.EdDSA, key.secretKey, approvalSignBytes(d.chainId, change(d))));
    writeDraft(args.positionals[0]!, d);
    out(`${id} approved change ${d.seq} (${Object.keys(d.approvals).length} approval(s) so far)`);
    return 0;
  },
};

export const validatorPossessCommand: CommandSpec = {
  name: 'validator possess',
  summary: 'sign a drafted add or rotate-key with the new node key (proof that its holder agrees)',
  positionals: [{ name: 'DRAFT', help: 'the change draft' }],
  options: { 'data-dir': { type: 'string', value: 'D', help: 'the data dir holding the new node key' } },
  async run(args) {
    const d = readDraft(args.positionals[0]!);
    const key = nodeKey(need(args, 'data-dir', 'validator possess'));
    if (d.publicKey !== toHex(key.publicKey)) throw new GatewayError('E_VALSET_INVALID', 'this data dir\'s node key is not the draft\'s new key');
    d.possession = toHex(signMessage(Alg.EdDSA, key.secretKey, approvalSignBytes(d.chainId, change(d))));
    writeDraft(args.positionals[0]!, d);
    out(`the new key signed change ${d.seq}`);
    return 0;
  },
};

export const validatorSealCommand: CommandSpec = {
  name: 'validator seal',
  summary: 'turn an approved draft into the signed set-change transaction (type 20)',
  positionals: [{ name: 'DRAFT', help: 'the change draft' }],
  options: {
    'data-dir': { type: 'string', value: 'D', help: 'the submitting approver\'s data dir (a rotation: the rotated validator\'s)' },
    out: { type: 'string', value: 'FILE', help: 'where to write the transaction bytes' },
    'set-changes': setOptions['set-changes'],
  },
  details: 'Refuses a draft whose approvals do not hold more than 2/3 of the current set\'s power (E_VALSET_APPROVAL).',
  async run(args) {
    const dir = need(args, 'data-dir', 'validator seal');
    const d = readDraft(args.positionals[0]!);
    const key = nodeKey(dir);
    const set = latestSet(args, loadDataDirGenesis(resolve(dir)));
    const id = memberOf(set, key);
    const body: ValidatorSetTxBody = {
      type: VALSET_TX_TYPE, time: Date.now(), ...change(d),
      approvals: Object.entries(d.approvals).map(([validator, sig]) => ({ validator, signature: fromHex(sig) })),
      ...(d.possession ? { possession: fromHex(d.possession) } : {}),
    };
    if (!d.approvals[id]) throw new GatewayError('E_VALSET_APPROVAL', `${id} submits but has not approved: run validator approve first`);
    if (d.op === 'rotate-key' && id !== d.validator) throw new GatewayError('E_VALSET_APPROVAL', `a key rotation is sealed by ${d.validator} itself, with its current key`);
    const problem = approvalProblem(d.chainId, set, body);
    if (problem) throw new GatewayError('E_VALSET_APPROVAL', problem);
    const file = need(args, 'out', 'validator seal');
    writeFileSync(file, signCoseSign1(Alg.EdDSA, key.secretKey, encodeValidatorSetTxBody(body), d.chainId, id));
    out(`wrote ${file}: change ${d.seq}, ${d.op} ${d.validator}, sealed by ${id}`);
    return 0;
  },
};
