/**
 * Meters, state kind 'meter' (protocols/state.ts): the record, the registry as genesis
 * defines it, and the rules of transaction types 1-4 (readings, register, rotate, revoke),
 * pure. Intake, block production, block validation and the audit all use these same
 * functions (through ./rules.ts), so what is accepted is exactly what verifies later.
 */
import {
  type Alg, type KeyEntry, type MeterRegister, type MeterRevoke, type MeterRotate, ReasonCode, type Reading, type ReadingWindow,
  RejectionError, type SignedTx, type StateChange, StateKind, type StateReader, TxType, equalBytes, formatTime, type Genesis, decodeKey, fromHex, genesisRecipientKeys,
  type LedgerChain, type OperatorRole, type GenesisValidator, type TxBody, operatorRoles, type RecipientKey, type SealedReading, type PeriodKeyBody,
} from '../../protocols/index.js';

export interface MeterRecord {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  /** 0 at registration, +1 per rotation. */
  readonly keyEpoch: number;
  readonly revoked: boolean;
  readonly owner?: string;
  readonly jid?: string;
  /** A confidential meter's recipient keys, sorted by id (docs/protocol.md §11.2); absent: readings in the clear. */
  readonly recipients?: readonly RecipientKey[];
  /** Highest sequence number applied (0n: none yet). */
  readonly lastSeq: bigint;
  /**
   * The anti-replay window below lastSeq (docs/protocol.md §3.9): bit i set when seq
   * lastSeq - i was applied, for i below the genesis seqWindow (bit 0: lastSeq itself).
   */
  readonly seen: bigint;
}

/** `seen` of a stored record written before the window existed, until rebuilt from the chain's index. */
export const SEEN_UNKNOWN = -1n;

/** What the meter rules take from the chain's parameters (genesis). */
export interface ChainParams {
  /** The anti-replay window of each meter (genesis params, seqWindowOf()). */
  readonly seqWindow: number;
  /**
   * What the rules of types 6-19 take (protocols/billing/ledger.ts): genesis operators
   * with roles, currency, cycle, the committed readings (state/ledger.ts). Absent: this
   * node applies no ledger transaction.
   */
  readonly ledger?: LedgerChain;
  /**
   * What the rule of type 20 takes (./valset.ts, docs/protocol.md §13): the chain id its
   * approvals sign and genesis's validator set, which the changes in state start from.
   * Absent: this node applies no set change.
   */
  readonly valset?: { readonly chainId: string; readonly genesis: readonly GenesisValidator[] };
}

/** Genesis operators by id, with their roles (docs/billing.md §13.3). */
export type Operators = ReadonlyMap<string, KeyEntry & { readonly roles: readonly OperatorRole[] }>;

/** The key a transaction must be signed with. */
export interface Signer {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
}

export function operatorsOf(genesis: Genesis): Operators {
  return new Map(genesis.operators.map((o) => [o.id, { ...decodeKey(o), roles: operatorRoles(o) }]));
}

/** The meter record `meterId` in `state`, or undefined. */
export const meterOf = (state: StateReader, meterId: string): MeterRecord | undefined => state.get(StateKind.Meter, meterId) as MeterRecord | undefined;

const meterChange = (meterId: string, value: MeterRecord): StateChange[] => [{ kind: StateKind.Meter, id: meterId, value }];

/** The registry as genesis defines it, as state changes on an empty state. */
export function genesisMeters(genesis: Genesis): StateChange[] {
  return genesis.meters.flatMap((g) => {
    const k = decodeKey(g);
    return meterChange(g.id, {
      alg: k.alg, publicKey: fromHex(g.publicKey), keyEpoch: 0, revoked: false, lastSeq: 0n, seen: 0n,
      ...(g.owner !== undefined ? { owner: g.owner } : {}), ...(g.jid !== undefined ? { jid: g.jid } : {}),
      ...(g.recipients !== undefined ? { recipients: genesisRecipientKeys(g)! } : {}),
    });
  });
}

/**
 * An operator of genesis, by the kid of `tx`, in `role`, holding a key of the
 * transaction's algorithm. Meter transactions 2-4 are a registrar's (docs/billing.md
 * §13.3; an operator without roles in genesis is a registrar).
 */
export function operatorSigner(operators: Operators, tx: SignedTx<TxBody>, role: OperatorRole = 'registrar'): Signer {
  const op = tx.cose.kid === undefined ? undefined : operators.get(tx.cose.kid);
  if (!op) throw new RejectionError(ReasonCode.NOT_OPERATOR, `kid "${tx.cose.kid ?? ''}" is not an operator in genesis`, 'kid');
  if (!op.roles.includes(role)) throw new RejectionError(ReasonCode.TX_ROLE, `operator "${op.id}" is not a ${role} (roles: ${op.roles.join(', ')})`, 'kid');
  if (op.alg !== tx.cose.alg) throw new RejectionError(ReasonCode.BAD_ALG, `operator "${op.id}" key is of another algorithm`, 'alg');
  return op;
}

function registered(state: StateReader, meterId: string): MeterRecord {
  const m = meterOf(state, meterId);
  if (!m) throw new RejectionError(ReasonCode.UNKNOWN_METER, `meter "${meterId}" is not registered`, 'meterId');
  return m;
}

function live(state: StateReader, meterId: string): MeterRecord {
  const m = registered(state, meterId);
  if (m.revoked) throw new RejectionError(ReasonCode.METER_REVOKED, `meter "${meterId}" is revoked`, 'meterId');
  return m;
}

/** Type 1: a reading, signed by its meter's registered key; its seq moves forward (docs/protocol.md §3.5). */
export function readingSigner(state: StateReader, tx: SignedTx<Reading | SealedReading | PeriodKeyBody>): Signer {
  const m = live(state, tx.body.meterId);
  if (m.alg !== tx.cose.alg) throw new RejectionError(ReasonCode.BAD_ALG, `meter "${tx.body.meterId}" has a ${m.alg === -8 ? 'Ed25519' : 'ES256'} key`, 'alg');
  return m;
}

export function applyReading(state: StateReader, tx: SignedTx<Reading | SealedReading>, chain: ChainParams): StateChange[] {
  const b = tx.body;
  const cur = live(state, b.meterId);
  return meterChange(b.meterId, { ...cur, ...takeSeq(cur, b.seq, chain.seqWindow) });
}

/**
 * The anti-replay window of docs/protocol.md §3.9 (RFC 4303 §3.4.3, RFC 9147 §4.5.1): a
 * seq above the highest moves the window up; one inside it that was not taken is taken;
 * anything else is a replay. So every (meter, seq) is applied at most once, in any order
 * within the window. Throws E_READING_SEQ_REPLAY.
 */
export function takeSeq(cur: { lastSeq: bigint; seen: bigint }, seq: bigint, seqWindow: number): { lastSeq: bigint; seen: bigint } {
  const w = BigInt(seqWindow);
  const all = (1n << w) - 1n;
  if (seq > cur.lastSeq) {
    const shift = seq - cur.lastSeq;
    return { lastSeq: seq, seen: shift >= w ? 1n : ((cur.seen << shift) | 1n) & all };
  }
  const below = cur.lastSeq - seq;
  if (below >= w) {
    throw new RejectionError(ReasonCode.SEQ_REPLAY, `seq ${seq} is ${seqWindow} or more below the highest accepted ${cur.lastSeq}`, 'seq');
  }
  const bit = 1n << below;
  if (cur.seen & bit) throw new RejectionError(ReasonCode.SEQ_REPLAY, `seq ${seq} was already accepted`, 'seq');
  return { lastSeq: cur.lastSeq, seen: cur.seen | bit };
}

/** Type 2: an operator registers a meter. */
export function applyMeterRegister(state: StateReader, tx: SignedTx<MeterRegister>): StateChange[] {
  const b = tx.body;
  if (meterOf(state, b.meterId)) throw new RejectionError(ReasonCode.TX_CONFLICT, `meter "${b.meterId}" is already registered`, 'meterId');
  return meterChange(b.meterId, {
    alg: b.alg, publicKey: b.publicKey, keyEpoch: 0, revoked: false, lastSeq: 0n, seen: 0n,
    ...(b.owner !== undefined ? { owner: b.owner } : {}), ...(b.jid !== undefined ? { jid: b.jid } : {}),
    ...(b.recipients !== undefined ? { recipients: b.recipients } : {}),
  });
}

/** Type 3: an operator rotates a meter's key; keyEpoch moves by one. */
export function applyMeterRotate(state: StateReader, tx: SignedTx<MeterRotate>): StateChange[] {
  const b = tx.body;
  const cur = live(state, b.meterId);
  if (b.keyEpoch !== cur.keyEpoch + 1) throw new RejectionError(ReasonCode.TX_CONFLICT, `keyEpoch must be ${cur.keyEpoch + 1}, got ${b.keyEpoch}`, 'keyEpoch');
  return meterChange(b.meterId, { ...cur, alg: b.alg, publicKey: b.publicKey, keyEpoch: b.keyEpoch });
}

/** Type 4: an operator revokes a meter, for good. */
export function applyMeterRevoke(state: StateReader, tx: SignedTx<MeterRevoke>): StateChange[] {
  const b = tx.body;
  const cur = registered(state, b.meterId);
  if (cur.revoked) throw new RejectionError(ReasonCode.TX_CONFLICT, `meter "${b.meterId}" is already revoked`, 'meterId');
  return meterChange(b.meterId, { ...cur, revoked: true });
}

/**
 * Where a reading's time lies against [at - maxPastMs, at + maxFutureMs]: 'past' (too old,
 * and so for every later block too, block times never going back), 'future' (too new:
 * a later block may take it) or undefined (inside, or not a reading: operator
 * transactions have no time window, docs/protocol.md §3.6).
 */
export function readingTimeProblem(w: ReadingWindow, tx: SignedTx<TxBody>, at: number): 'past' | 'future' | undefined {
  if (tx.body.type !== TxType.Reading) return undefined;
  if (tx.body.time < at - w.maxPastMs) return 'past';
  if (tx.body.time > at + w.maxFutureMs) return 'future';
  return undefined;
}

/** The time rule of docs/protocol.md §3.5; throws E_READING_TIME_SKEW. `at` is a block's time (or the intake's clock). */
export function checkReadingTime(w: ReadingWindow, tx: SignedTx<TxBody>, at: number, around = 'the block time'): void {
  const p = readingTimeProblem(w, tx, at);
  if (p === undefined) return;
  const t = (tx.body as { time: number }).time;
  const bound = p === 'past' ? `more than ${w.maxPastMs} ms before` : `more than ${w.maxFutureMs} ms after`;
  throw new RejectionError(ReasonCode.TIME_SKEW, `time ${formatTime(t)} is ${bound} ${around} ${formatTime(at)}`, 'time');
}

export function sameRecord(a: MeterRecord, b: MeterRecord): boolean {
  return a.alg === b.alg && equalBytes(a.publicKey, b.publicKey) && a.keyEpoch === b.keyEpoch &&
    a.revoked === b.revoked && a.owner === b.owner && a.jid === b.jid && a.lastSeq === b.lastSeq && sameRecipients(a.recipients, b.recipients) &&
    (a.seen === b.seen || a.seen === SEEN_UNKNOWN || b.seen === SEEN_UNKNOWN);
}

function sameRecipients(a: readonly RecipientKey[] | undefined, b: readonly RecipientKey[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((r, i) => r.id === b[i]!.id && r.kem === b[i]!.kem && equalBytes(r.publicKey, b[i]!.publicKey));
}
