/**
 * Changing the validator set (docs/protocol.md §13): transaction type 20 adds or removes a
 * validator, changes its power or rotates its node key. One transaction carries the change
 * and the approvals of validators holding more than 2/3 of the power of the set in force
 * at the height of the block that includes it; the change takes effect VALSET_DELAY
 * heights later. Changes are numbered 1, 2, ... in the order they commit, and approvals
 * sign the number, so an approval counts once and for one change only.
 *
 * Payload (deterministic-CBOR map, integer labels, like every transaction):
 *   0 type 20, 1 validator id tstr, 3 time uint (ms), 13 seq uint (1..), 14 op uint
 *   (1 add, 2 remove, 3 power, 4 rotate key), 15 power uint (add, power), 8 public key
 *   bstr 32 (add, rotate), 16 approvals [[id tstr, sig bstr 64], ...] sorted by id,
 *   17 possession bstr 64 (add, rotate: the new key's signature over the approval bytes).
 * The COSE_Sign1 around it is signed by one of the approving validators, with kid its id;
 * a rotation by the rotated validator with its old key.
 */
import { encodeCbor } from './cbor.js';
import { equalBytes, fromHex, toHex } from './bytes.js';
import { ReasonCode, RejectionError } from './errors.js';
import { type GenesisValidator, MAX_TOTAL_POWER } from './genesis.js';
import { Alg, publicKeyProblem, verifySignature } from './keys.js';
import { type PayloadMap, idField, onlyLabels, schema, uint } from './payload.js';
import type { StateReader } from './state.js';

/** Transaction type 20 (protocols/state.ts reserves 20-29 for the validator set). */
export const VALSET_TX_TYPE = 20;
/**
 * A change included at height H applies from height H + VALSET_DELAY: when a validator
 * votes at height h it has committed h - 1, so it knows the set of h (and of h + 1).
 */
export const VALSET_DELAY = 2;
/**
 * The size limit of a type 20 transaction (docs/protocol.md §13.1): 100 approvals of a
 * 64-character id and a signature, with the rest, fit well within it.
 */
export const VALSET_MAX_TX_BYTES = 16384;
/** Most approvals one change carries (a set of more is refused at add). */
export const MAX_VALIDATORS = 100;

export const ValidatorSetOp = { Add: 1, Remove: 2, Power: 3, RotateKey: 4 } as const;
export type ValidatorSetOp = (typeof ValidatorSetOp)[keyof typeof ValidatorSetOp];
const OP_NAMES: Record<ValidatorSetOp, string> = { 1: 'add', 2: 'remove', 3: 'power', 4: 'rotate-key' };

/** What changes: the part every approval signs. */
export interface ValidatorSetChange {
  readonly seq: number;
  readonly op: ValidatorSetOp;
  readonly validator: string;
  /** add, power */
  readonly power?: number;
  /** add, rotate: the new Ed25519 node key */
  readonly publicKey?: Uint8Array;
}

export interface Approval {
  readonly validator: string;
  readonly signature: Uint8Array;
}

export interface ValidatorSetTxBody extends ValidatorSetChange {
  readonly type: typeof VALSET_TX_TYPE;
  readonly time: number;
  readonly approvals: readonly Approval[];
  /** add, rotate: the new key's signature over approvalSignBytes. */
  readonly possession?: Uint8Array;
}

const invalid = (msg: string, field?: string): RejectionError => new RejectionError(ReasonCode.VALSET_INVALID, msg, field);
const unapproved = (msg: string): RejectionError => new RejectionError(ReasonCode.VALSET_APPROVAL, msg, 'approvals');

/** The bytes each approver signs with its node key, and the new key signs as possession (§13.2). */
export function approvalSignBytes(chainId: string, c: ValidatorSetChange): Uint8Array {
  return encodeCbor(['meterledger/valset/v1', chainId, c.seq, c.op, c.validator, c.power ?? null, c.publicKey ?? null]);
}

const LABELS: Record<ValidatorSetOp, readonly number[]> = {
  1: [0, 1, 3, 8, 13, 14, 15, 16, 17],
  2: [0, 1, 3, 13, 14, 16],
  3: [0, 1, 3, 13, 14, 15, 16],
  4: [0, 1, 3, 8, 13, 14, 16, 17],
};

function bytesField(m: PayloadMap, label: number, field: string, length: number): Uint8Array {
  const v = m.get(label);
  if (!(v instanceof Uint8Array) || v.length !== length) throw schema(`${field} (label ${label}) must be a bstr of ${length} bytes`, field);
  return v;
}

/** Parse a type 20 payload map (E_READING_SCHEMA naming the field). */
export function decodeValidatorSetTxBody(m: PayloadMap): ValidatorSetTxBody {
  if (m.get(0) !== VALSET_TX_TYPE) throw schema(`type (label 0) must be ${VALSET_TX_TYPE}`, 'type');
  const op = m.get(14);
  if (op !== 1 && op !== 2 && op !== 3 && op !== 4) throw schema('op (label 14) must be 1 add, 2 remove, 3 power or 4 rotate-key', 'op');
  onlyLabels(m, LABELS[op], VALSET_TX_TYPE);
  const seq = uint(m, 13, 'seq')!;
  if (seq < 1) throw schema('seq must be at least 1', 'seq');
  const raw = m.get(16);
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_VALIDATORS) throw schema(`approvals (label 16) must be an array of 1..${MAX_VALIDATORS}`, 'approvals');
  const approvals = raw.map((a: unknown): Approval => {
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || !(a[1] instanceof Uint8Array) || a[1].length !== 64) {
      throw schema('each approval must be [validator id, 64-byte signature]', 'approvals');
    }
    return { validator: a[0], signature: a[1] };
  });
  for (let i = 1; i < approvals.length; i++) {
    if (approvals[i - 1]!.validator >= approvals[i]!.validator) throw schema('approvals must be sorted by validator id, each once', 'approvals');
  }
  const body: { -readonly [K in keyof ValidatorSetTxBody]: ValidatorSetTxBody[K] } = {
    type: VALSET_TX_TYPE, validator: idField(m, 1, 'validator'), time: uint(m, 3, 'time')!, seq, op, approvals,
  };
  if (op === ValidatorSetOp.Add || op === ValidatorSetOp.Power) {
    const power = uint(m, 15, 'power')!;
    if (power < 1 || power > MAX_TOTAL_POWER) throw schema('power must be 1..2^50', 'power');
    body.power = power;
  }
  if (op === ValidatorSetOp.Add || op === ValidatorSetOp.RotateKey) {
    body.publicKey = bytesField(m, 8, 'publicKey', 32);
    body.possession = bytesField(m, 17, 'possession', 64);
  }
  return body;
}

export function encodeValidatorSetTxBody(b: ValidatorSetTxBody): Uint8Array {
  const m = new Map<number, unknown>([[0, b.type], [1, b.validator], [3, b.time], [13, b.seq], [14, b.op]]);
  if (b.power !== undefined) m.set(15, b.power);
  if (b.publicKey !== undefined) m.set(8, b.publicKey);
  m.set(16, [...b.approvals].sort((x, y) => (x.validator < y.validator ? -1 : 1)).map((a) => [a.validator, a.signature]));
  if (b.possession !== undefined) m.set(17, b.possession);
  return encodeCbor(m);
}

export const describeChange = (c: ValidatorSetChange): string =>
  `change ${c.seq}: ${OP_NAMES[c.op]} ${c.validator}${c.power !== undefined ? ` power ${c.power}` : ''}${c.publicKey ? ` key ${toHex(c.publicKey)}` : ''}`;

/** The set after `c` (§13.3); throws E_VALSET_INVALID saying why it cannot apply. */
export function applySetChange(set: readonly GenesisValidator[], c: ValidatorSetChange): GenesisValidator[] {
  const i = set.findIndex((v) => v.id === c.validator);
  const keyHolder = c.publicKey ? set.find((v) => v.publicKey === toHex(c.publicKey!)) : undefined;
  const checkKey = (): string => {
    const problem = publicKeyProblem(Alg.EdDSA, c.publicKey!);
    if (problem) throw invalid(`publicKey: ${problem}`, 'publicKey');
    if (keyHolder) throw invalid(`the key is ${keyHolder.id}'s already`, 'publicKey');
    return toHex(c.publicKey!);
  };
  const total = (s: readonly GenesisValidator[]): number => s.reduce((p, v) => p + v.power, 0);
  let next: GenesisValidator[];
  switch (c.op) {
    case ValidatorSetOp.Add:
      if (i >= 0) throw invalid(`${c.validator} is a validator already`, 'validator');
      if (set.length >= MAX_VALIDATORS) throw invalid(`the set has ${MAX_VALIDATORS} validators, the most it may`, 'validator');
      next = [...set, { id: c.validator, alg: 'Ed25519', publicKey: checkKey(), power: c.power! }];
      break;
    case ValidatorSetOp.Remove:
      if (i < 0) throw invalid(`${c.validator} is no validator`, 'validator');
      if (set.length === 1) throw invalid('the last validator cannot be removed', 'validator');
      next = set.filter((_, j) => j !== i);
      break;
    case ValidatorSetOp.Power:
      if (i < 0) throw invalid(`${c.validator} is no validator`, 'validator');
      if (set[i]!.power === c.power) throw invalid(`${c.validator} has power ${c.power} already`, 'power');
      next = set.map((v, j) => (j === i ? { ...v, power: c.power! } : v));
      break;
    case ValidatorSetOp.RotateKey:
      if (i < 0) throw invalid(`${c.validator} is no validator`, 'validator');
      next = set.map((v, j) => (j === i ? { ...v, publicKey: checkKey() } : v));
      break;
  }
  if (total(next) > MAX_TOTAL_POWER) throw invalid('the total power would exceed 2^50', 'power');
  return next;
}

/**
 * The approval rule (§13.2): `approvals` are valid signatures over approvalSignBytes by
 * distinct members of `set` (the set in force at the including block's height) holding
 * more than 2/3 of its power; a rotation carries the rotated validator's own approval
 * (its old key); an add or a rotation, the new key's possession signature. Any bad entry
 * spoils the whole, as in a commit certificate, so that every checker agrees.
 * `verify` checks one Ed25519 signature (the node passes its OpenSSL one).
 */
export function approvalProblem(
  chainId: string, set: readonly GenesisValidator[], body: ValidatorSetTxBody,
  verify: (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean = (k, m, s) => verifySignature(Alg.EdDSA, k, m, s),
): string | undefined {
  const msg = approvalSignBytes(chainId, body);
  const total = set.reduce((p, v) => p + v.power, 0);
  let power = 0;
  const seen = new Set<string>();
  for (const a of body.approvals) {
    const v = set.find((x) => x.id === a.validator);
    if (!v) return `approved by "${a.validator}", who is no validator at this height`;
    if (seen.has(v.id)) return `"${v.id}" approved twice`;
    seen.add(v.id);
    if (!verify(fromHex(v.publicKey), msg, a.signature)) return `bad approval signature from "${v.id}"`;
    power += v.power;
  }
  if (power * 3 <= total * 2) return `approvals hold ${power} of ${total} voting power, need more than two thirds`;
  if (body.op === ValidatorSetOp.RotateKey && !seen.has(body.validator)) return `a key rotation needs the approval of ${body.validator} with its current key`;
  if (body.publicKey && (!body.possession || !verify(body.publicKey, msg, body.possession))) return 'the new key did not sign the change (possession)';
  return undefined;
}

/**
 * The whole check of a type 20 transaction at block `height` (the rule of every node and
 * of the receipt checker): the next number, approvals, and the change applying to the set.
 * Returns the set after the change.
 */
export function checkSetChange(
  chainId: string, set: readonly GenesisValidator[], nextSeq: number, body: ValidatorSetTxBody,
  verify?: (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean,
): GenesisValidator[] {
  if (body.seq !== nextSeq) throw new RejectionError(ReasonCode.VALSET_SEQ, `this is change ${body.seq}; the next change is ${nextSeq}`, 'seq');
  const problem = approvalProblem(chainId, set, body, verify);
  if (problem) throw unapproved(problem);
  return applySetChange(set, body);
}

/** One set and the first height it is in force. */
export interface SetEpoch {
  readonly from: number;
  readonly validators: readonly GenesisValidator[];
}

/**
 * The sets of every height: genesis's, then each change's result from its including
 * height + VALSET_DELAY. Pending changes (included, not in force yet) apply on top of the
 * set they follow; approvals are counted with the set in force at the including height.
 */
export class ValidatorSchedule {
  private readonly epochs: SetEpoch[];

  constructor(genesisSet: readonly GenesisValidator[], epochs: readonly SetEpoch[] = []) {
    this.epochs = [{ from: 1, validators: genesisSet }, ...epochs];
  }

  /** Changes applied so far (the next change's number is this + 1). */
  get changes(): number {
    return this.epochs.length - 1;
  }

  /** The latest set, pending changes included: what the next change applies to. */
  get latest(): readonly GenesisValidator[] {
    return this.epochs.at(-1)!.validators;
  }

  get list(): readonly SetEpoch[] {
    return this.epochs.slice(1);
  }

  /** The set in force at `height`. */
  at(height: number): readonly GenesisValidator[] {
    for (let i = this.epochs.length - 1; i >= 0; i--) if (this.epochs[i]!.from <= height) return this.epochs[i]!.validators;
    return this.epochs[0]!.validators;
  }

  /** Record a change included at `height` whose result is `next`. */
  push(height: number, next: readonly GenesisValidator[]): void {
    const from = height + VALSET_DELAY;
    if (from < this.epochs.at(-1)!.from) throw new Error('set changes must be pushed in height order');
    this.epochs.push({ from, validators: next });
  }
}

/** The state record of the validator set (kind validatorSet, id "sets"): every epoch since genesis. */
export const VALSET_STATE_ID = 'sets';

export function scheduleFromState(genesisSet: readonly GenesisValidator[], state: StateReader): ValidatorSchedule {
  const v = state.get('validatorSet', VALSET_STATE_ID) as SetEpoch[] | undefined;
  return new ValidatorSchedule(genesisSet, v ?? []);
}

export const sameSet = (a: readonly GenesisValidator[], b: readonly GenesisValidator[]): boolean =>
  a.length === b.length && a.every((v, i) => v.id === b[i]!.id && v.power === b[i]!.power && equalBytes(fromHex(v.publicKey), fromHex(b[i]!.publicKey)));
