/**
 * A meter's cumulative register between its committed readings (docs/billing.md §6):
 * which readings a computation needs (those bracketing each boundary), and the register
 * value at any instant, interpolated in integer arithmetic between those readings, with
 * a register that goes backwards continued from its new value.
 */
import { ReasonCode, RejectionError } from '../errors.js';
import { countAtOrBefore } from './localtime.js';
import { floorDiv } from './rounding.js';

/** What the engine reads of a committed reading (a protocols Reading body fits). */
export interface BillReading {
  readonly seq: bigint;
  /** ms since the epoch, as signed by the meter */
  readonly time: number;
  /** cumulative import register, Wh */
  readonly importWh: number;
  /** cumulative export register, Wh, when the meter reports one */
  readonly exportWh?: number;
  /** when given, must be the bill's meter */
  readonly meterId?: string;
}

const MAX_SEQ = 2n ** 64n - 1n;

/** (time, seq) ascending: the one order of readings the engine uses. */
const before = (a: BillReading, b: BillReading): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

/** Check the readings and order them by (time, seq); a repeated seq is refused. */
export function orderReadings(readings: readonly BillReading[], meterId: string): readonly BillReading[] {
  const bad = (i: number, f: string, msg: string): never => {
    throw new RejectionError(ReasonCode.BILL_READINGS_INVALID, `readings[${i}].${f} ${msg}`, `readings[${i}].${f}`);
  };
  // One pass: check each reading, and whether the input is already in (time, seq) order
  // with rising seqs (the usual case: nothing to sort, and no seq can repeat).
  let ordered = true;
  let rising = true;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (typeof r.seq !== 'bigint' || r.seq < 1n || r.seq > MAX_SEQ) bad(i, 'seq', 'must be a bigint from 1 to 2^64-1');
    if (!Number.isSafeInteger(r.time) || r.time < 0) bad(i, 'time', 'must be an integer from 0 to 2^53-1 (ms)');
    if (!Number.isSafeInteger(r.importWh) || r.importWh < 0) bad(i, 'importWh', 'must be an integer from 0 to 2^53-1');
    if (r.exportWh !== undefined && (!Number.isSafeInteger(r.exportWh) || r.exportWh < 0)) bad(i, 'exportWh', 'must be an integer from 0 to 2^53-1');
    if (r.meterId !== undefined && r.meterId !== meterId) bad(i, 'meterId', `is "${r.meterId}", not the bill's meter "${meterId}"`);
    if (i > 0) {
      const p = readings[i - 1]!;
      if (p.time > r.time) ordered = false;
      else if (p.seq >= r.seq) {
        rising = false;
        if (p.time === r.time) ordered = false;
      }
    }
  }
  if (ordered && rising) return readings;
  const out = [...readings].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const seqs = new Set<bigint>();
  for (const r of out) {
    if (seqs.has(r.seq)) throw new RejectionError(ReasonCode.BILL_READINGS_INVALID, `two readings have seq ${r.seq}`, 'readings');
    seqs.add(r.seq);
  }
  return out;
}

/** The readings that carry an export register, in the same order (the same array if all do). */
export function withExportRegister(rs: readonly BillReading[]): readonly BillReading[] {
  for (let i = 0; i < rs.length; i++) if (rs[i]!.exportWh === undefined) return rs.filter((r) => r.exportWh !== undefined);
  return rs;
}

/** Index of the first reading whose time is after `t` (readings in (time, seq) order). */
const firstAfter = (rs: readonly BillReading[], t: number): number => countAtOrBefore(rs.length, (i) => rs[i]!.time, t);

/**
 * The readings an instant needs (§6.1): the last reading at `t` if there is one; else the
 * last before and the first after (whichever exist). Adds their indexes to `into`.
 */
export function bracket(rs: readonly BillReading[], t: number, into: Set<number>): void {
  const i = firstAfter(rs, t);
  if (i > 0 && rs[i - 1]!.time === t) {
    into.add(i - 1);
    return;
  }
  if (i > 0) into.add(i - 1);
  if (i < rs.length) into.add(i);
}

/**
 * The readings a register needs over a set of boundaries (§6.1), as ascending indexes:
 * each boundary's bracket, and between the first and last of those, both readings of
 * every step where the register goes down (so a drop is seen where it happened).
 */
export function neededReadings(rs: readonly BillReading[], boundaries: Iterable<number>, value: (r: BillReading) => number): number[] {
  const into = new Set<number>();
  for (const t of boundaries) bracket(rs, t, into);
  if (into.size === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of into) {
    if (i < lo) lo = i;
    if (i > hi) hi = i;
  }
  for (let i = lo; i < hi; i++) {
    if (value(rs[i + 1]!) < value(rs[i]!)) {
      into.add(i);
      into.add(i + 1);
    }
  }
  return [...into].sort((a, b) => a - b);
}

/** A register's reading that went below the one before it (among the readings used). */
export interface RegisterStep {
  readonly fromSeq: bigint;
  readonly toSeq: bigint;
}

/**
 * One register over the readings used, in (time, seq) order. Its continued value A_k
 * is the reading's value plus the sum of every earlier drop, so it never decreases and a
 * drop contributes no energy: the new register counts from its first reading (§6.3).
 */
export class Register {
  private readonly times: number[];
  private readonly values: bigint[];
  readonly resets: RegisterStep[] = [];

  constructor(readonly used: readonly BillReading[], value: (r: BillReading) => number) {
    this.times = used.map((r) => r.time);
    this.values = [];
    let offset = 0n;
    used.forEach((r, k) => {
      const v = BigInt(value(r));
      if (k > 0) {
        const prev = BigInt(value(used[k - 1]!));
        if (v < prev) {
          offset += prev - v;
          this.resets.push({ fromSeq: used[k - 1]!.seq, toSeq: r.seq });
        }
      }
      this.values.push(v + offset);
    });
  }

  /**
   * The continued register at instant t (§6.2): the value of the last reading at t; before
   * the first reading the first's value, after the last the last's; else
   * A_k + floor((A_k+1 - A_k) * (t - t_k) / (t_k+1 - t_k)).
   */
  at(t: number): bigint {
    const n = this.times.length;
    if (n === 0) return 0n;
    const times = this.times;
    const lo = countAtOrBefore(n, (i) => times[i]!, t);
    if (lo === 0) return this.values[0]!;
    if (this.times[lo - 1] === t || lo === n) return this.values[lo - 1]!;
    const t0 = this.times[lo - 1]!;
    const a0 = this.values[lo - 1]!;
    const span = BigInt(this.times[lo]! - t0);
    return a0 + floorDiv((this.values[lo]! - a0) * BigInt(t - t0), span);
  }
}
