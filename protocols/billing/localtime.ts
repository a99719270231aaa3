/**
 * A tariff's own local time (docs/billing.md §4): a base UTC offset and explicit
 * transition instants, never the host's time-zone database, so every validator and
 * browser derives the same local date, hour and day boundaries from an instant.
 *
 * Instants are integer milliseconds since 1970-01-01T00:00:00Z (the `time` of a reading).
 * Local dates are day numbers: days since 1970-01-01 in the proleptic Gregorian calendar.
 * All arithmetic is on integers below 2^48; `Math.floor(a / b)` is exact there
 * (|a| + b < 2^53).
 */

export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;
/** Offsets are within ±18:00 (ISO 8601 allows no more; real ones are within -12:00..+14:00). */
export const MAX_OFFSET_MINUTES = 18 * 60;
/** Instants of tariffs and bills lie in [0, MAX_INSTANT): 1970-01-01 to 9999-12-31. */
export const MAX_INSTANT = 253_402_300_800_000;

export interface OffsetTransition {
  /** From this instant (inclusive) the offset is `offsetMinutes`. */
  readonly at: number;
  readonly offsetMinutes: number;
}

export interface LocalTimeRules {
  /** The offset (local minus UTC, minutes) before the first transition, or always if none. */
  readonly offsetMinutes: number;
  /** Strictly increasing instants, each changing the offset. */
  readonly transitions: readonly OffsetTransition[];
}

export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

const fdiv = (a: number, b: number): number => Math.floor(a / b);

/** Day number of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level date algorithms"). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = fdiv(y, 400);
  const yoe = y - era * 400;
  const doy = fdiv(153 * (month + (month > 2 ? -3 : 9)) + 2, 5) + day - 1;
  const doe = yoe * 365 + fdiv(yoe, 4) - fdiv(yoe, 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The inverse of daysFromCivil. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = fdiv(z, 146_097);
  const doe = z - era * 146_097;
  const yoe = fdiv(doe - fdiv(doe, 1460) + fdiv(doe, 36_524) - fdiv(doe, 146_096), 365);
  const doy = doe - (365 * yoe + fdiv(yoe, 4) - fdiv(yoe, 100));
  const mp = fdiv(5 * doy + 2, 153);
  const day = doy - fdiv(153 * mp + 2, 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** ISO 8601 weekday of a day number: 1 Monday .. 7 Sunday (day 0, 1970-01-01, was a Thursday). */
export function isoWeekday(days: number): number {
  return ((((days + 3) % 7) + 7) % 7) + 1;
}

export function daysInMonth(year: number, month: number): number {
  return daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) - daysFromCivil(year, month, 1);
}

const pad = (n: number, w = 2): string => n.toString().padStart(w, '0');

/** "YYYY-MM-DD" of a day number. */
export function formatLocalDate(days: number): string {
  const c = civilFromDays(days);
  return `${pad(c.year, 4)}-${pad(c.month)}-${pad(c.day)}`;
}

/** Day number of "YYYY-MM-DD" (years 1970..9999), or undefined if it is not a real date. */
export function parseLocalDate(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  return daysFromCivil(y, mo, d);
}

/** "+01:00", "-03:30", "+00:00". */
export function formatOffset(minutes: number): string {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(fdiv(a, 60))}:${pad(a % 60)}`;
}

/** Minutes of "±HH:MM" within ±18:00, or undefined. "-00:00" is refused (RFC 3339 §4.3 gives it another meaning). */
export function parseOffset(s: string): number | undefined {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [h, mi] = [Number(m[2]), Number(m[3])];
  if (mi > 59) return undefined;
  const v = (h * 60 + mi) * (m[1] === '-' ? -1 : 1);
  if (Math.abs(v) > MAX_OFFSET_MINUTES || (v === 0 && m[1] === '-')) return undefined;
  return v;
}

/**
 * Milliseconds of an RFC 3339 date-time with seconds, at most 3 fraction digits and an
 * explicit offset ("2026-03-29T01:00:00Z", "2026-01-01T00:00:00.5+01:00"); undefined if
 * it is not one or lies outside [0, MAX_INSTANT). No leap seconds (60).
 */
export function parseInstant(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const days = parseLocalDate(`${m[1]}-${m[2]}-${m[3]}`);
  const [h, mi, sec] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (days === undefined || h > 23 || mi > 59 || sec > 59) return undefined;
  const off = m[8] === 'Z' ? 0 : parseOffset(m[8]!);
  if (off === undefined) return undefined;
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  const t = days * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MINUTE + sec * 1000 + ms - off * MS_PER_MINUTE;
  return t >= 0 && t < MAX_INSTANT ? t : undefined;
}

/** RFC 3339 in UTC: "2026-03-29T01:00:00Z", with ".sss" only when the milliseconds are not 0. */
export function formatInstant(t: number): string {
  const days = fdiv(t, MS_PER_DAY);
  const r = t - days * MS_PER_DAY;
  const ms = r % 1000;
  const clock = `${pad(fdiv(r, MS_PER_HOUR))}:${pad(fdiv(r, MS_PER_MINUTE) % 60)}:${pad(fdiv(r, 1000) % 60)}`;
  return `${formatLocalDate(days)}T${clock}${ms ? `.${pad(ms, 3)}` : ''}Z`;
}

/**
 * How many of n ascending keys are at or before t (binary search): the index of the first
 * key after t. Shared by offset intervals, readings and the register.
 */
export function countAtOrBefore(n: number, key: (i: number) => number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(mid) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many transitions take effect at or before `t`: the index of t's offset interval. */
function intervalAt(rules: LocalTimeRules, t: number): number {
  const tr = rules.transitions;
  return countAtOrBefore(tr.length, (i) => tr[i]!.at, t);
}

const offsetOfInterval = (rules: LocalTimeRules, j: number): number => (j === 0 ? rules.offsetMinutes : rules.transitions[j - 1]!.offsetMinutes);

/** The offset in force at instant `t`, in minutes. */
export function offsetAt(rules: LocalTimeRules, t: number): number {
  return offsetOfInterval(rules, intervalAt(rules, t));
}

/** The first instant after `t` at which the offset changes, or undefined. */
export function nextTransitionAfter(rules: LocalTimeRules, t: number): number | undefined {
  return rules.transitions[intervalAt(rules, t)]?.at;
}

export interface LocalTime {
  /** The local wall-clock reading as milliseconds of a UTC-like timeline: t + offset. */
  readonly wallMs: number;
  /** Local date (day number). */
  readonly days: number;
  /** 1..12 */
  readonly month: number;
  /** 0..23 */
  readonly hour: number;
  /** ISO weekday, 1 Monday .. 7 Sunday. */
  readonly weekday: number;
  readonly offsetMinutes: number;
}

/** The local date, month, hour and weekday of instant `t` (docs/billing.md §4.2). */
export function localTimeAt(rules: LocalTimeRules, t: number): LocalTime {
  const offsetMinutes = offsetAt(rules, t);
  const wallMs = t + offsetMinutes * MS_PER_MINUTE;
  const days = fdiv(wallMs, MS_PER_DAY);
  return {
    wallMs, days, month: civilFromDays(days).month, hour: fdiv(wallMs - days * MS_PER_DAY, MS_PER_HOUR),
    weekday: isoWeekday(days), offsetMinutes,
  };
}

/**
 * The start of local date `days`: the earliest instant whose wall clock reads that date's
 * 00:00 or later (docs/billing.md §4.3). Where clocks jump over midnight it is the jump.
 */
export function startOfLocalDay(rules: LocalTimeRules, days: number): number {
  const x = days * MS_PER_DAY;
  const tr = rules.transitions;
  // t + offset(t) >= x needs t >= x - 18 h: start the scan in that instant's interval.
  for (let j = intervalAt(rules, x - MAX_OFFSET_MINUTES * MS_PER_MINUTE); ; j++) {
    const start = j === 0 ? -Infinity : tr[j - 1]!.at;
    const end = j === tr.length ? Infinity : tr[j]!.at;
    const cand = Math.max(start, x - offsetOfInterval(rules, j) * MS_PER_MINUTE);
    if (cand < end) return cand;
  }
}

/**
 * The local day that instant `t` belongs to for day counting: the greatest D with
 * startOfLocalDay(D) <= t. It is t's wall-clock date except in a repeated stretch after a
 * backward jump over midnight, which belongs to the later day.
 */
export function dayContaining(rules: LocalTimeRules, t: number): number {
  let d = localTimeAt(rules, t).days;
  while (startOfLocalDay(rules, d + 1) <= t) d++;
  return d;
}
