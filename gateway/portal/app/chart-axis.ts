/**
 * The usage chart's x axis, in seconds (uPlot's time unit). Pure: no DOM, unit-tested in Node.
 *
 * Each bar stands at its bucket's start; the axis runs from one bucket before the first to one
 * bucket after the last, each measured by that bucket's own length (an hour, a day, a month of
 * 28 to 31 days, a 23- or 25-hour day at a clock change), so a single bucket sits in the middle
 * of an axis two buckets wide.
 */
import type { Bucket } from './usage.js';

/** Seconds from ms, as uPlot's time scale counts. */
export const barX = (b: Bucket): number => b.start / 1000;

/** The whole axis of these buckets: [first start - its length, last start + its length (its end)]. */
export function fullRange(buckets: readonly Bucket[]): [number, number] {
  const first = buckets[0];
  const last = buckets.at(-1);
  if (!first || !last) throw new RangeError('buckets: at least one is needed for an axis');
  return [(first.start - (first.end - first.start)) / 1000, last.end / 1000];
}

/**
 * What the x scale is set to when uPlot asks for [min, max]. uPlot asks with the first and
 * last x to fit the data (and, when the first equals the last on a time scale, with the last
 * moved a day on, which left an hour's bar at the edge of a 26-hour axis), and with a
 * selection when the user zooms. A span that holds every bar is a request to fit: the full
 * axis. A narrower one is a zoom, kept as asked.
 */
export function xRange(buckets: readonly Bucket[], min: number | null, max: number | null): [number, number] {
  const full = fullRange(buckets);
  if (min === null || max === null || !(max > min)) return full;
  const holdsAll = min <= barX(buckets[0]!) && max >= barX(buckets.at(-1)!);
  return holdsAll ? full : [min, max];
}
