/**
 * The state-transition rules of the ledger, pure: what a transaction needs from the meter
 * registry to be valid, and what it changes. Intake, block production and the audit all
 * use these same functions, so what is accepted is exactly what verifies later.
 */
import {
  type Alg, type KeyEntry, ReasonCode, type ReadingWindow, RejectionError, type SignedTx, TxType,
  equalBytes, formatTime, type Genesis, decodeKey, fromHex,
} from '../protocols/index.js';

export interface MeterRecord {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  /** 0 at registration, +1 per rotation. */
  readonly keyEpoch: number;
  readonly revoked: boolean;
  readonly owner?: string;
  readonly jid?: string;
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

export interface MeterLookup {
  meter(meterId: string): MeterRecord | undefined;
}

export type Operators = ReadonlyMap<string, KeyEntry>;

export function operatorsOf(genesis: Genesis): Operators {
  return new Map(genesis.operators.map((o) => [o.id, decodeKey(o)]));
}

/** The registry as genesis defines it. */
export function genesisMeters(genesis: Genesis): Map<string, MeterRecord> {
  const m = new Map<string, MeterRecord>();
  for (const g of genesis.meters) {
    const k = decodeKey(g);
    m.set(g.id, {
      alg: k.alg, publicKey: fromHex(g.publicKey), keyEpoch: 0, revoked: false, lastSeq: 0n, seen: 0n,
      ...(g.owner !== undefined ? { owner: g.owner } : {}), ...(g.jid !== undefined ? { jid: g.jid } : {}),
    });
  }
  return m;
}

/** The key that must have signed `tx`, given the registry; throws a RejectionError. */
export function requiredSigner(state: MeterLookup, operators: Operators, tx: SignedTx): { alg: Alg; publicKey: Uint8Array } {
  if (tx.body.type === TxType.Reading) {
    const m = state.meter(tx.body.meterId);
    if (!m) throw new RejectionError(ReasonCode.UNKNOWN_METER, `meter "${tx.body.meterId}" is not registered`, 'meterId');
    if (m.revoked) throw new RejectionError(ReasonCode.METER_REVOKED, `meter "${tx.body.meterId}" is revoked`, 'meterId');
    if (m.alg !== tx.cose.alg) throw new RejectionError(ReasonCode.BAD_ALG, `meter "${tx.body.meterId}" has a ${m.alg === -8 ? 'Ed25519' : 'ES256'} key`, 'alg');
    return m;
  }
  const op = tx.cose.kid === undefined ? undefined : operators.get(tx.cose.kid);
  if (!op) throw new RejectionError(ReasonCode.NOT_OPERATOR, `kid "${tx.cose.kid ?? ''}" is not an operator in genesis`, 'kid');
  if (op.alg !== tx.cose.alg) throw new RejectionError(ReasonCode.BAD_ALG, `operator "${op.id}" key is of another algorithm`, 'alg');
  return op;
}

/**
 * Where a reading's time lies against [at - maxPastMs, at + maxFutureMs]: 'past' (too old,
 * and so for every later block too, block times never going back), 'future' (too new:
 * a later block may take it) or undefined (inside, or not a reading: operator
 * transactions have no time window, docs/protocol.md §3.6).
 */
export function readingTimeProblem(w: ReadingWindow, tx: SignedTx, at: number): 'past' | 'future' | undefined {
  if (tx.body.type !== TxType.Reading) return undefined;
  if (tx.body.time < at - w.maxPastMs) return 'past';
  if (tx.body.time > at + w.maxFutureMs) return 'future';
  return undefined;
}

/** The time rule of docs/protocol.md §3.5; throws E_READING_TIME_SKEW. `at` is a block's time (or the intake's clock). */
export function checkReadingTime(w: ReadingWindow, tx: SignedTx, at: number, around = 'the block time'): void {
  const p = readingTimeProblem(w, tx, at);
  if (p === undefined) return;
  const t = (tx.body as { time: number }).time;
  const bound = p === 'past' ? `more than ${w.maxPastMs} ms before` : `more than ${w.maxFutureMs} ms after`;
  throw new RejectionError(ReasonCode.TIME_SKEW, `time ${formatTime(t)} is ${bound} ${around} ${formatTime(at)}`, 'time');
}

/**
 * Apply `tx` (signature already checked against requiredSigner) to the registry view:
 * returns the meter's new record, or throws a RejectionError saying why it is invalid.
 */
export function applyTx(state: MeterLookup, tx: SignedTx, seqWindow: number): { meterId: string; next: MeterRecord } {
  const b = tx.body;
  const cur = state.meter(b.meterId);
  switch (b.type) {
    case TxType.Reading: {
      if (!cur) throw new RejectionError(ReasonCode.UNKNOWN_METER, `meter "${b.meterId}" is not registered`, 'meterId');
      if (cur.revoked) throw new RejectionError(ReasonCode.METER_REVOKED, `meter "${b.meterId}" is revoked`, 'meterId');
      return { meterId: b.meterId, next: { ...cur, ...takeSeq(cur, b.seq, seqWindow) } };
    }
    case TxType.MeterRegister: {
      if (cur) throw new RejectionError(ReasonCode.TX_CONFLICT, `meter "${b.meterId}" is already registered`, 'meterId');
      return {
        meterId: b.meterId,
        next: {
          alg: b.alg, publicKey: b.publicKey, keyEpoch: 0, revoked: false, lastSeq: 0n, seen: 0n,
          ...(b.owner !== undefined ? { owner: b.owner } : {}), ...(b.jid !== undefined ? { jid: b.jid } : {}),
        },
      };
    }
    case TxType.MeterRotate: {
      if (!cur) throw new RejectionError(ReasonCode.UNKNOWN_METER, `meter "${b.meterId}" is not registered`, 'meterId');
      if (cur.revoked) throw new RejectionError(ReasonCode.METER_REVOKED, `meter "${b.meterId}" is revoked`, 'meterId');
      if (b.keyEpoch !== cur.keyEpoch + 1) {
        throw new RejectionError(ReasonCode.TX_CONFLICT, `keyEpoch must be ${cur.keyEpoch + 1}, got ${b.keyEpoch}`, 'keyEpoch');
      }
      return { meterId: b.meterId, next: { ...cur, alg: b.alg, publicKey: b.publicKey, keyEpoch: b.keyEpoch } };
    }
    case TxType.MeterRevoke: {
      if (!cur) throw new RejectionError(ReasonCode.UNKNOWN_METER, `meter "${b.meterId}" is not registered`, 'meterId');
      if (cur.revoked) throw new RejectionError(ReasonCode.TX_CONFLICT, `meter "${b.meterId}" is already revoked`, 'meterId');
      return { meterId: b.meterId, next: { ...cur, revoked: true } };
    }
  }
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

export function sameRecord(a: MeterRecord, b: MeterRecord): boolean {
  return a.alg === b.alg && equalBytes(a.publicKey, b.publicKey) && a.keyEpoch === b.keyEpoch &&
    a.revoked === b.revoked && a.owner === b.owner && a.jid === b.jid && a.lastSeq === b.lastSeq && (a.seen === b.seen || a.seen === SEEN_UNKNOWN || b.seen === SEEN_UNKNOWN);
}
