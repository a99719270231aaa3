/**
 * Consumption and export per hour, day or month, from the verified readings' cumulative
 * registers, never from raw register values: the energy of [start, end) is A(end) - A(start)
 * on the continued register of docs/billing.md §6.2 (the billing engine's Register), so a
 * register that goes down (a meter replaced, a roll-over) adds nothing for that step and
 * counts on from its new value (§6.3), and the buckets add up to the register delta.
 * Pure: no DOM, unit-tested in Node.
 */
import { type BillReading, Register, orderReadings, withExportRegister } from '../../../protocols/billing/interpolate.js';

export type Unit = 'hour' | 'day' | 'month';

export interface Bucket {
  /** Start of the bucket, ms (local time of the browser). */
  readonly start: number;
  readonly end: number;
  readonly importWh: number;
  readonly exportWh: number;
}

export interface Usage {
  readonly buckets: readonly Bucket[];
  /** Steps where a register went down (§6.3): they contributed nothing. */
  readonly resets: readonly { register: 'import' | 'export'; fromSeq: bigint; toSeq: bigint }[];
}

/** Most buckets a chart shows (the latest ones). */
export const MAX_BUCKETS: Readonly<Record<Unit, number>> = { hour: 48, day: 62, month: 24 };

/** Start of the local hour, day or month containing t. */
export function bucketStart(t: number, unit: Unit): number {
  const d = new Date(t);
  if (unit === 'hour') d.setMinutes(0, 0, 0);
  else if (unit === 'day') d.setHours(0, 0, 0, 0);
  else {
    d.setDate(1);
    d.setHours(0, 0, 0, 0);
  }
  return d.getTime();
}

export function nextBucket(start: number, unit: Unit): number {
  const d = new Date(start);
  if (unit === 'hour') d.setHours(d.getHours() + 1);
  else if (unit === 'day') d.setDate(d.getDate() + 1);
  else d.setMonth(d.getMonth() + 1);
  return d.getTime();
}

export function usage(readings: readonly BillReading[], meterId: string, unit: Unit, maxBuckets = MAX_BUCKETS[unit]): Usage {
  if (readings.length === 0) return { buckets: [], resets: [] };
  const ordered = orderReadings(readings, meterId);
  const imp = new Register(ordered, (r) => r.importWh);
  const exp = new Register(withExportRegister(ordered), (r) => r.exportWh!);
  const first = ordered[0]!.time;
  const last = ordered.at(-1)!.time;
  // The latest maxBuckets buckets up to the one holding the last reading.
  const starts: number[] = [];
  for (let s = bucketStart(last, unit); starts.length < maxBuckets; ) {
    starts.unshift(s);
    if (s <= first) break;
    s = bucketStart(s - 1, unit);
  }
  const buckets = starts.map((start) => {
    const end = nextBucket(start, unit);
    return { start, end, importWh: Number(imp.at(end) - imp.at(start)), exportWh: Number(exp.at(end) - exp.at(start)) };
  });
  return {
    buckets,
    resets: [
      ...imp.resets.map((r) => ({ register: 'import' as const, ...r })),
      ...exp.resets.map((r) => ({ register: 'export' as const, ...r })),
    ],
  };
}

export interface Gaps {
  /** Sequence numbers missing between the loaded readings: [from, to] inclusive. */
  readonly missing: readonly (readonly [bigint, bigint])[];
  /** Silences: consecutive readings further apart than `threshold`. */
  readonly silences: readonly { readonly from: number; readonly to: number }[];
  readonly thresholdMs: number;
}

/**
 * Gaps among readings in seq order: missing seqs, and silences longer than three times
 * the median interval (at least a minute), so a meter's own cadence sets what is "silent".
 */
export function gaps(readings: readonly { seq: bigint; time: number }[]): Gaps {
  const rs = [...readings].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  const missing: [bigint, bigint][] = [];
  const steps: number[] = [];
  for (let i = 1; i < rs.length; i++) {
    if (rs[i]!.seq > rs[i - 1]!.seq + 1n) missing.push([rs[i - 1]!.seq + 1n, rs[i]!.seq - 1n]);
    steps.push(rs[i]!.time - rs[i - 1]!.time);
  }
  const sorted = [...steps].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0;
  const thresholdMs = Math.max(60_000, 3 * median);
  const silences = [];
  for (let i = 1; i < rs.length; i++) {
    if (rs[i]!.time - rs[i - 1]!.time > thresholdMs) silences.push({ from: rs[i - 1]!.time, to: rs[i]!.time });
  }
  return { missing, silences, thresholdMs };
}
