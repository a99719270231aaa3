/**
 * Where a tariff's time-of-use bands fall in time (docs/billing.md §5.2) and how many of
 * its local days a stretch of time covers (§5.4). Both read the tariff's own local time.
 */
import {
  type LocalTime, MS_PER_DAY, MS_PER_HOUR, dayContaining, localTimeAt, nextTransitionAfter, parseLocalDate, startOfLocalDay,
} from './localtime.js';
import { type Fraction, ZERO_FRACTION, addFractions, fraction } from './rounding.js';
import type { Tariff } from './tariff.js';

export type DayType = 'weekday' | 'weekend' | 'holiday';

interface Compiled {
  /** [month 1..12][day type 0 weekday, 1 weekend, 2 holiday][hour] -> band index */
  readonly bandOf: readonly (readonly (readonly number[])[])[];
  readonly holidays: ReadonlySet<number>;
  readonly weekend: ReadonlySet<number>;
}

const compiled = new WeakMap<Tariff, Compiled>();

function compile(t: Tariff): Compiled {
  let c = compiled.get(t);
  if (c) return c;
  const hours = (s: string): number[] => Array.from(s, (ch) => parseInt(ch, 36));
  const bandOf: number[][][] = [];
  for (const season of t.schedule) {
    const rows = [hours(season.weekday), hours(season.weekend), hours(season.holiday)];
    for (const m of season.months) bandOf[m] = rows;
  }
  c = { bandOf, holidays: new Set(t.holidays.map((d) => parseLocalDate(d)!)), weekend: new Set(t.weekendDays) };
  compiled.set(t, c);
  return c;
}

/** The day type of a local date: a listed holiday, else a weekend day, else a weekday. */
export function dayTypeOf(t: Tariff, days: number, weekday: number): DayType {
  const c = compile(t);
  return c.holidays.has(days) ? 'holiday' : c.weekend.has(weekday) ? 'weekend' : 'weekday';
}

function bandOfLocal(c: Compiled, lt: LocalTime): number {
  const type = c.holidays.has(lt.days) ? 2 : c.weekend.has(lt.weekday) ? 1 : 0;
  return c.bandOf[lt.month]![type]![lt.hour]!;
}

/** The band index in force at instant `at` under tariff `t`. */
export function bandAt(t: Tariff, at: number): number {
  return bandOfLocal(compile(t), localTimeAt(t.localTime, at));
}

export interface BandPiece {
  readonly from: number;
  readonly to: number;
  readonly band: number;
}

/**
 * [from, to) cut where the band changes: the band is constant between a local hour's
 * start and the next local hour's start or offset transition, whichever comes first;
 * neighbours with the same band are one piece.
 */
export function bandPieces(t: Tariff, from: number, to: number): BandPiece[] {
  const c = compile(t);
  const out: BandPiece[] = [];
  let cur = -1;
  let curFrom = from;
  let at = from;
  while (at < to) {
    // One local date at one offset: [at, stop) reads one row of hour bands.
    const lt = localTimeAt(t.localTime, at);
    const dayWall = lt.days * MS_PER_DAY;
    const offMs = lt.wallMs - at;
    const stop = Math.min(dayWall + MS_PER_DAY - offMs, nextTransitionAfter(t.localTime, at) ?? Infinity, to);
    const row = c.bandOf[lt.month]![c.holidays.has(lt.days) ? 2 : c.weekend.has(lt.weekday) ? 1 : 0]!;
    for (let hour = lt.hour; at < stop; hour++) {
      const band = row[hour]!;
      if (band !== cur) {
        if (cur >= 0) out.push({ from: curFrom, to: at, band: cur });
        cur = band;
        curFrom = at;
      }
      at = Math.min(dayWall + (hour + 1) * MS_PER_HOUR - offMs, stop);
    }
  }
  if (cur >= 0) out.push({ from: curFrom, to, band: cur });
  return out;
}

/**
 * The local days [from, to) covers under tariff `t`: the sum over local days D of the
 * share of D's length inside [from, to), exactly. A whole calendar month is its number of
 * days, whatever its DST changes.
 */
export function localDaysIn(t: Tariff, from: number, to: number): Fraction {
  let whole = 0n;
  let part = ZERO_FRACTION;
  let d = dayContaining(t.localTime, from);
  let s = startOfLocalDay(t.localTime, d);
  while (s < to) {
    const e = startOfLocalDay(t.localTime, d + 1);
    const len = e - s;
    const inside = Math.min(to, e) - Math.max(from, s);
    if (len > 0 && inside > 0) {
      if (inside === len) whole++;
      else part = addFractions(part, fraction(BigInt(inside), BigInt(len)));
    }
    d++;
    s = e;
  }
  return addFractions(part, { num: whole, den: 1n });
}
