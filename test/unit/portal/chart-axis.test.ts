/** The usage chart's x axis (gateway/portal/app/chart-axis.ts): one bucket, many, months, zoom. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barX, fullRange, xRange } from '../../../gateway/portal/app/chart-axis.js';
import { usage } from '../../../gateway/portal/app/usage.js';

process.env.TZ = 'UTC';
const H = 3_600_000;
const DAY_S = 86_400;
const T0 = Date.UTC(2026, 0, 10, 9, 0, 0);
const r = (seq: number, time: number, importWh: number) => ({ seq: BigInt(seq), time, importWh });

test('a day whose readings all fall in one hour: one bucket, its bar in the middle of a two-hour axis', () => {
  const u = usage([r(1, T0 + 5 * 60_000, 100), r(2, T0 + 20 * 60_000, 160), r(3, T0 + 50 * 60_000, 220)], 'm', 'hour');
  assert.equal(u.buckets.length, 1);
  const x = barX(u.buckets[0]!);
  // What uPlot asks of a time scale with one point: [x, x + 1 day] (uPlot.esm.js autoScaleX).
  const [lo, hi] = xRange(u.buckets, x, x + DAY_S);
  assert.deepEqual([lo, hi], [x - 3600, x + 3600]);
  assert.equal(x - lo, hi - x, 'the bar is centred');
  // and asked with nothing, or with a span of nothing, the same
  assert.deepEqual(xRange(u.buckets, null, null), [lo, hi]);
  assert.deepEqual(xRange(u.buckets, x, x), [lo, hi]);
});

test('several buckets: one bucket of room each side, whatever uPlot fitted', () => {
  const u = usage([r(1, T0, 0), r(2, T0 + 2.5 * H, 300)], 'm', 'hour');
  assert.equal(u.buckets.length, 3);
  const xs = u.buckets.map(barX);
  assert.deepEqual(xRange(u.buckets, xs[0]!, xs.at(-1)!), [xs[0]! - 3600, xs.at(-1)! + 3600]);
});

test('months are measured by their own length, not 31 days', () => {
  // February 2026 alone: 28 days before its start is 1 February - 31 days would reach into December
  const feb = Date.UTC(2026, 1, 1);
  const u = usage([r(1, feb + H, 0), r(2, feb + 20 * 24 * H, 500)], 'm', 'month');
  assert.equal(u.buckets.length, 1);
  assert.deepEqual(fullRange(u.buckets), [(feb - 28 * 24 * H) / 1000, Date.UTC(2026, 2, 1) / 1000]);
});

test('a zoom inside the bars is kept as selected; a selection holding every bar fits them again', () => {
  const u = usage([r(1, T0, 0), r(2, T0 + 5.5 * H, 600)], 'm', 'hour');
  const xs = u.buckets.map(barX);
  assert.deepEqual(xRange(u.buckets, xs[1]!, xs[3]!), [xs[1]!, xs[3]!]);
  assert.deepEqual(xRange(u.buckets, xs[0]! - 10, xs.at(-1)! + 10), fullRange(u.buckets));
});

test('no buckets, no axis: a RangeError naming the field', () => {
  assert.throws(() => fullRange([]), (e: Error) => e instanceof RangeError && /buckets/.test(e.message));
});
