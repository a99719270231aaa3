/**
 * Encodings of what the stores keep besides blocks: state records, index entries, head.
 * Both stores (./level.ts, ./memory.ts) keep values as these bytes, so a value that does
 * not encode fails in a unit test as it would on disk.
 */
import { ProtocolError, type RecipientKey, StateKind, decodeCbor, decodeLedgerValue, encodeCbor, isAlg, recipientKeysFrom } from '../../protocols/index.js';
import { type MeterRecord, SEEN_UNKNOWN } from '../state/meter.js';
import type { IndexedReading, TxPosition } from './store.js';

const corrupt = (what: string): ProtocolError => new ProtocolError('E_STORE_CORRUPT', what);

export function encodeMeterRecord(r: MeterRecord): Uint8Array {
  return encodeCbor({
    alg: r.alg, publicKey: r.publicKey, keyEpoch: r.keyEpoch, revoked: r.revoked, lastSeq: r.lastSeq,
    seen: bigintBytes(r.seen),
    ...(r.owner !== undefined ? { owner: r.owner } : {}), ...(r.jid !== undefined ? { jid: r.jid } : {}),
    // A confidential meter's recipient keys as registered (label 16): [[id, kem, publicKey], ...].
    ...(r.recipients !== undefined ? { recipients: r.recipients.map((k) => [k.id, k.kem, k.publicKey]) } : {}),
  });
}

export function decodeMeterRecord(b: Uint8Array, where: string): MeterRecord {
  let m: unknown;
  try {
    m = decodeCbor(b);
  } catch {
    throw corrupt(`${where}: meter record is not CBOR`);
  }
  if (!(m instanceof Map)) throw corrupt(`${where}: meter record is not a map`);
  const alg = m.get('alg');
  const pk = m.get('publicKey');
  const keyEpoch = m.get('keyEpoch');
  const revoked = m.get('revoked');
  const lastSeq = m.get('lastSeq');
  const seen = m.get('seen');
  const owner = m.get('owner');
  const jid = m.get('jid');
  const recipients = m.get('recipients');
  if (!isAlg(alg) || !(pk instanceof Uint8Array) || typeof keyEpoch !== 'number' || typeof revoked !== 'boolean' ||
    (typeof lastSeq !== 'number' && typeof lastSeq !== 'bigint') || (seen !== undefined && !(seen instanceof Uint8Array))) {
    throw corrupt(`${where}: meter record has missing or ill-typed fields`);
  }
  return {
    alg, publicKey: pk, keyEpoch, revoked, lastSeq: BigInt(lastSeq),
    // A record from before the window (docs/protocol.md §3.9): the node rebuilds it from the index at start.
    seen: seen instanceof Uint8Array ? bytesBigint(seen) : BigInt(lastSeq) > 0n ? SEEN_UNKNOWN : 0n,
    ...(typeof owner === 'string' ? { owner } : {}), ...(typeof jid === 'string' ? { jid } : {}),
    ...(recipients !== undefined ? { recipients: storedRecipients(recipients, where) } : {}),
  };
}

function storedRecipients(v: unknown, where: string): RecipientKey[] {
  try {
    return recipientKeysFrom(v);
  } catch {
    throw corrupt(`${where}: meter record has ill-formed recipient keys`);
  }
}

export function encodeStateValue(kind: string, value: unknown): Uint8Array {
  return kind === StateKind.Meter ? encodeMeterRecord(value as MeterRecord) : encodeCbor(value);
}

export function decodeStateValue(kind: string, b: Uint8Array, where: string): unknown {
  if (kind === StateKind.Meter) return decodeMeterRecord(b, where);
  try {
    return decodeLedgerValue(b); // text-keyed maps back to the plain objects the rules wrote
  } catch {
    throw corrupt(`${where}: state record is not CBOR`);
  }
}

/** [height, index, time, importWh] or [..., exportWh]; [height, index, time] for a sealed reading. */
export function encodeIndexEntry(r: Omit<IndexedReading, 'seq'>): Uint8Array {
  if (r.importWh === undefined) return encodeCbor([r.height, r.index, r.time]);
  return encodeCbor(r.exportWh === undefined ? [r.height, r.index, r.time, r.importWh] : [r.height, r.index, r.time, r.importWh, r.exportWh]);
}

/**
 * The unsigned integers of an index entry as its encoder writes them (an array of 3 to 5
 * shortest-form uints below 2^53), read without the general decoder: loading a meter's
 * index before its bill decodes thousands of entries, and cborg spent several µs on each.
 * Anything else gives undefined, and decodeIndexEntry takes the strict path (same result).
 */
function indexUints(b: Uint8Array): number[] | undefined {
  const head = b[0]!;
  if (head < 0x83 || head > 0x85) return undefined;
  const out: number[] = [];
  const at = uintsAt(b, 1, head - 0x80, out);
  return at === b.length ? out : undefined;
}

export function decodeIndexEntry(b: Uint8Array, seq: bigint, where: string): IndexedReading {
  const fast = indexUints(b);
  if (fast) {
    const [height, index, time, importWh, exportWh] = fast;
    return { seq, height: height!, index: index!, time: time!, ...(importWh !== undefined ? { importWh } : {}), ...(exportWh !== undefined ? { exportWh } : {}) };
  }
  let v: unknown;
  try {
    v = decodeCbor(b);
  } catch {
    throw corrupt(`${where}: index entry is not CBOR`);
  }
  if (!Array.isArray(v) || (v.length < 3 || v.length > 5) || !v.every((x) => typeof x === 'number')) {
    throw corrupt(`${where}: index entry is not [height, index, time, importWh?, exportWh?]`);
  }
  const [height, index, time, importWh, exportWh] = v as number[];
  return { seq, height: height!, index: index!, time: time!, ...(importWh !== undefined ? { importWh } : {}), ...(exportWh !== undefined ? { exportWh } : {}) };
}

/** A transaction index entry: [height, index]. */
export const encodeTxPosition = (p: TxPosition): Uint8Array => encodeCbor([p.height, p.index]);

export function decodeTxPosition(b: Uint8Array, where: string): TxPosition {
  let v: unknown;
  try {
    v = decodeCbor(b);
  } catch {
    throw corrupt(`${where}: transaction index entry is not CBOR`);
  }
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number')) throw corrupt(`${where}: transaction index entry is not [height, index]`);
  return { height: v[0] as number, index: v[1] as number };
}

export const encodeHead = (height: number, hash: Uint8Array): Uint8Array => encodeCbor([height, hash]);

export function decodeHead(b: Uint8Array): { height: number; hash: Uint8Array } {
  let v: unknown;
  try {
    v = decodeCbor(b);
  } catch {
    throw corrupt('head pointer is not CBOR');
  }
  if (!Array.isArray(v) || typeof v[0] !== 'number' || !(v[1] instanceof Uint8Array)) throw corrupt('head pointer is not [height, hash]');
  return { height: v[0], hash: v[1] };
}

/** Unsigned, big-endian, no leading zero bytes (0n: empty). */
function bigintBytes(v: bigint): Uint8Array {
  const hex = v === 0n ? '' : v.toString(16);
  return Uint8Array.from(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
}

const bytesBigint = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

/** One day, in ms: the reading history (./keys.ts J) is bucketed by UTC day of the reading's time. */
export const DAY_MS = 86_400_000;
export const dayOf = (time: number): number => Math.floor(time / DAY_MS);

/**
 * A reading history value (./keys.ts J): the readings of one meter that one block
 * committed with times in one UTC day, each [seq, leaf index, time, importWh?, exportWh?]
 * (the height and the day are in the key). One value holds what a block committed of a
 * meter that day, so loading a meter's month reads a few hundred values, not thousands.
 */
export function encodeHistoryValue(rows: readonly Omit<IndexedReading, 'height'>[]): Uint8Array {
  return encodeCbor(rows.map((r) => {
    const head = [r.seq, r.index, r.time];
    if (r.importWh === undefined) return head;
    return r.exportWh === undefined ? [...head, r.importWh] : [...head, r.importWh, r.exportWh];
  }));
}

/**
 * Shortest-form CBOR uints below 2^53 at b[at..], `n` of them: [values, next offset], or
 * undefined for anything else (the strict decoder then decides).
 */
function uintsAt(b: Uint8Array, at: number, n: number, out: number[]): number | undefined {
  for (; n > 0; n--) {
    if (at >= b.length) return undefined;
    const ib = b[at++]!;
    if (ib >> 5 !== 0) return undefined;
    const ai = ib & 0x1f;
    if (ai < 24) {
      out.push(ai);
      continue;
    }
    if (ai > 27) return undefined;
    const len = 1 << (ai - 24);
    if (at + len > b.length) return undefined;
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + b[at + i]!;
    at += len;
    // Shortest form only (what the strict decoder accepts), and a safe integer.
    const min = len === 1 ? 24 : len === 2 ? 0x100 : len === 4 ? 0x10000 : 0x100000000;
    if (v < min || v > Number.MAX_SAFE_INTEGER) return undefined;
    out.push(v);
  }
  return at;
}

/** The rows of a history value as the encoder writes them, read without the general decoder (a bill loads ~300 values of ~10 rows). */
function historyRowsFast(b: Uint8Array): number[][] | undefined {
  let at = 0;
  const head = b[at++];
  if (head === undefined) return undefined;
  let n: number;
  if (head >= 0x80 && head < 0x98) n = head - 0x80;
  else if (head === 0x98 && b.length > 1) n = b[at++]!;
  else if (head === 0x99 && b.length > 2) {
    n = b[at]! * 256 + b[at + 1]!;
    at += 2;
  } else return undefined;
  if (n === 0 || (head === 0x98 && n < 24) || (head === 0x99 && n < 256)) return undefined;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const rh = b[at++];
    if (rh === undefined || rh < 0x83 || rh > 0x85) return undefined;
    const row: number[] = [];
    const next = uintsAt(b, at, rh - 0x80, row);
    if (next === undefined) return undefined;
    at = next;
    rows.push(row);
  }
  return at === b.length ? rows : undefined;
}

/** A history value back, the height and day of its key given; a row of another day is corrupt. */
export function decodeHistoryValue(b: Uint8Array, height: number, day: number, where: string): IndexedReading[] {
  let rows: (number | bigint)[][] | undefined = historyRowsFast(b);
  if (!rows) {
    let v: unknown;
    try {
      v = decodeCbor(b);
    } catch {
      throw corrupt(`${where}: reading history value is not CBOR`);
    }
    const uint = (x: unknown): boolean => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) || (typeof x === 'bigint' && x >= 0n);
    if (!Array.isArray(v) || v.length === 0 || !v.every((r) => Array.isArray(r) && r.length >= 3 && r.length <= 5 && r.every(uint) && r.slice(1).every((x) => typeof x === 'number'))) {
      throw corrupt(`${where}: reading history value is not [[seq, index, time, importWh?, exportWh?], ...]`);
    }
    rows = v as (number | bigint)[][];
  }
  const out: IndexedReading[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const time = r[2] as number;
    if (dayOf(time) !== day) throw corrupt(`${where}: reading history holds time ${time} under day ${day}`);
    const e: { seq: bigint; height: number; index: number; time: number; importWh?: number; exportWh?: number } = { seq: BigInt(r[0]!), height, index: r[1] as number, time };
    if (r.length > 3) e.importWh = r[3] as number;
    if (r.length > 4) e.exportWh = r[4] as number;
    out[i] = e;
  }
  return out;
}

/** A block's readings grouped as the history holds them: by meter, then UTC day, in block order. */
export function historyGroups<R extends IndexedReading & { readonly meterId: string }>(readings: readonly R[]): Map<string, Map<number, R[]>> {
  const out = new Map<string, Map<number, R[]>>();
  for (const r of readings) {
    let m = out.get(r.meterId);
    if (!m) out.set(r.meterId, (m = new Map()));
    const d = dayOf(r.time);
    let l = m.get(d);
    if (!l) m.set(d, (l = []));
    l.push(r);
  }
  return out;
}
