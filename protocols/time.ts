/**
 * Times in protocol fields are uint milliseconds since 1970-01-01T00:00:00Z (UTC), up to
 * 2^53-1: far beyond what an ECMAScript Date holds (±8.64e15 ms, ECMA-262 §21.4.1.1), and
 * `new Date(t).toISOString()` throws a RangeError ("Invalid time value") past it. Untrusted
 * times are formatted only through here.
 */

/** The largest |ms| an ECMAScript Date holds (ECMA-262 §21.4.1.1): 100,000,000 days. */
export const MAX_DATE_MS = 8.64e15;

/** RFC 3339 text of `ms` when a Date can hold it, else the number itself, saying so. Never throws. */
export function formatTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms since 1970 (beyond any calendar date)`;
}
