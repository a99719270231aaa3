/**
 * LevelDB key layout (version 5, ./layout.ts), private to ./level.ts (and ./layout.ts,
 * ./migrate-0.1.ts, which rewrite older ones).
 * One-byte prefixes keep each family contiguous and in order:
 *   F                          layout version, CBOR uint 5 (4: no J; 3: T lacks period-key/ subjects; 2: no X, T; absent: a 0.1 store)
 *   B<height u64be>            block bytes (protocols encodeBlock)
 *   C<height u64be>            commit certificate bytes
 *   I<meterId>\0<seq u64be>    reading index: CBOR [height, leaf index, time, importWh, exportWh?]
 *   J<meterId>\0<day u32be><height u64be>  reading history, by time: the readings of that meter
 *                              block `height` committed with times in UTC day `day` (time / 86,400,000),
 *                              CBOR [[seq, leaf index, time, importWh?, exportWh?], ...] (store/codec.ts)
 *   X<tx hash 32>              transaction index: CBOR [height, leaf index]
 *   T<subject>\0<height u64be><index u32be>  transactions about a subject: the tx hash
 *   R<kind>\0<id>              state record (protocols/state.ts), CBOR (store/codec.ts)
 *   G                          genesis hash this store belongs to
 *   H                          head: CBOR [height, block hash]
 *   V<height u64be><round u32be><type>  a consensus message this node signed (never sign another)
 *   S<height u64be>            the consensus safety state of that height (consensus/record.ts)
 *   L<height u64be><hash>      a block the safety state names (locked or valid), its bytes
 *   E<time u64be><n u32be>     evidence of a validator signing two different messages
 * Layout 0.1 had besides (./migrate-0.1.ts moves them):
 *   M<meterId>                 meter record, now R meter\0<meterId>
 *   P<accept no u64be>         write-ahead entries, now files in <data>/wal/ (store/wal.ts)
 *   I ... CBOR [height, leaf index], now with time and registers
 */
import type { ClassicLevel } from 'classic-level';
import { utf8 } from '../../protocols/index.js';

export type Db = ClassicLevel<Uint8Array, Uint8Array>;
export type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

const u64 = (n: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
};
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const readU64 = (b: Uint8Array, at: number): bigint => new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0);

function key(prefix: string, ...parts: Uint8Array[]): Uint8Array {
  let n = 1;
  for (const p of parts) n += p.length;
  const k = new Uint8Array(n);
  k[0] = prefix.charCodeAt(0);
  let o = 1;
  for (const p of parts) {
    k.set(p, o);
    o += p.length;
  }
  return k;
}

export const Keys = {
  block: (h: number) => key('B', u64(h)),
  commit: (h: number) => key('C', u64(h)),
  reading: (meterId: string, seq: bigint) => key('I', utf8(meterId), Uint8Array.of(0), u64(seq)),
  readingsOf: (meterId: string) => key('I', utf8(meterId), Uint8Array.of(0)),
  history: (meterId: string, day: number, height: number) => key('J', utf8(meterId), Uint8Array.of(0), u32(day), u64(height)),
  /** The first history key of `meterId` on or after UTC day `day`. */
  historyFrom: (meterId: string, day: number) => key('J', utf8(meterId), Uint8Array.of(0), u32(day)),
  historyOf: (meterId: string) => key('J', utf8(meterId), Uint8Array.of(0)),
  tx: (hash: Uint8Array) => key('X', hash),
  about: (subject: string, height: number, index: number) => key('T', utf8(subject), Uint8Array.of(0), u64(height), u32(index)),
  aboutOf: (subject: string) => key('T', utf8(subject), Uint8Array.of(0)),
  record: (kind: string, id: string) => key('R', utf8(kind), Uint8Array.of(0), utf8(id)),
  meter01: (meterId: string) => key('M', utf8(meterId)),
  pending: (n: number) => key('P', u64(n)),
  signed: (h: number, round: number, type: string) => key('V', u64(h), u32(round), utf8(type)),
  signedAt: (h: number) => key('V', u64(h)),
  safetyState: (h: number) => key('S', u64(h)),
  recordBlock: (h: number, hash: Uint8Array) => key('L', u64(h), hash),
  /** The first key of a per-height consensus family at height h. */
  atHeight: (prefix: 'V' | 'S' | 'L', h: number) => key(prefix, u64(h)),
  evidence: (t: number, n: number) => key('E', u64(t), u32(n)),
  genesis: key('G'),
  format: key('F'),
  head: key('H'),
  /** [gte, lt) bounds of one prefix family. */
  range: (prefix: string, sub: Uint8Array = new Uint8Array()) => ({
    gte: key(prefix, sub),
    lt: (() => {
      const k = key(prefix, sub);
      // the smallest key above every key starting with k
      let i = k.length - 1;
      while (i >= 0 && k[i] === 0xff) i--;
      const out = k.slice(0, i + 1);
      out[i] = out[i]! + 1;
      return out;
    })(),
  }),
} as const;

/** Height and leaf index at the end of a T key. */
export function positionOfAboutKey(k: Uint8Array): { height: number; index: number } {
  const v = new DataView(k.buffer, k.byteOffset + k.length - 12, 12);
  return { height: Number(v.getBigUint64(0)), index: v.getUint32(8) };
}
export const heightOfKey = (k: Uint8Array): number => Number(readU64(k, 1));
export const pendingNoOfKey = (k: Uint8Array): number => Number(readU64(k, 1));
export const seqOfReadingKey = (k: Uint8Array): bigint => readU64(k, k.length - 8);
export const meterIdOfMeterKey01 = (k: Uint8Array): string => new TextDecoder().decode(k.subarray(1));
export function kindIdOfRecordKey(k: Uint8Array): { kind: string; id: string } {
  const z = k.indexOf(0, 1);
  const d = new TextDecoder();
  return { kind: d.decode(k.subarray(1, z)), id: d.decode(k.subarray(z + 1)) };
}
/** Meter, day and height of a J key. */
export function ofHistoryKey(k: Uint8Array): { meterId: string; day: number; height: number } {
  const v = new DataView(k.buffer, k.byteOffset + k.length - 12, 12);
  return { meterId: new TextDecoder().decode(k.subarray(1, k.length - 13)), day: v.getUint32(0), height: Number(v.getBigUint64(4)) };
}
/** Day and height of a J key of a known meter (no text decoding). */
export function dayHeightOfHistoryKey(k: Uint8Array): { day: number; height: number } {
  const v = new DataView(k.buffer, k.byteOffset + k.length - 12, 12);
  return { day: v.getUint32(0), height: Number(v.getBigUint64(4)) };
}
export function meterIdOfReadingKey(k: Uint8Array): string {
  return new TextDecoder().decode(k.subarray(1, k.length - 9));
}
