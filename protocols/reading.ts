/**
 * What every reading shares, clear or sealed (docs/protocol.md §3.5, §11.4): its type
 * number, its clear fields (labels 1-3) and the default size limit. Apart from ./tx.ts so
 * that ./confidential can build on it while ./tx.ts decodes sealed readings (no cycle).
 */
import { idField, schema, uint } from './payload.js';

/** Type 1 (protocols/state.ts registry). */
export const READING_TYPE = 1;

/** Default size limit of one transaction, in bytes. */
export const MAX_TX_BYTES = 1024;

export interface Reading {
  readonly type: typeof READING_TYPE;
  readonly meterId: string;
  /** Strictly increasing per meter, 1 .. 2^64-1. */
  readonly seq: bigint;
  /** Milliseconds since 1970-01-01T00:00:00Z. */
  readonly time: number;
  /** Cumulative active energy imported, Wh (OBIS 1.8.0). */
  readonly importWh: number;
  /** Cumulative active energy exported, Wh (OBIS 2.8.0). */
  readonly exportWh?: number;
  /** Instantaneous active power, W (negative when exporting). */
  readonly powerW?: number;
}

export function seqField(m: Map<unknown, unknown>): bigint {
  const rawSeq = m.get(2);
  if ((typeof rawSeq !== 'number' && typeof rawSeq !== 'bigint') || rawSeq < 1 || (typeof rawSeq === 'number' && !Number.isSafeInteger(rawSeq))) {
    throw schema('seq (label 2) must be an unsigned integer from 1 to 2^64-1', 'seq');
  }
  return BigInt(rawSeq);
}

/**
 * The clear fields of any reading (labels 1-3), parsed as decodeTxBody parses them: the
 * sealed form of a reading (protocols/confidential, label 12) shares them.
 */
export function readingClearFields(m: Map<unknown, unknown>): { meterId: string; seq: bigint; time: number } {
  return { meterId: idField(m, 1, 'meterId'), seq: seqField(m), time: uint(m, 3, 'time')! };
}

