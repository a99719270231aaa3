/** The portal's usage buckets: register deltas on the continued register (docs/billing.md §6.2, §6.3). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaps, usage } from '../../../gateway/portal/app/usage.js';

// Buckets are local hours and days: fix the zone (Node applies a TZ set at run time).
process.env.TZ = 'UTC';
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);
const r = (seq: number, time: number, importWh: number, exportWh?: number) => ({ seq: BigInt(seq), time, importWh, ...(exportWh !== undefined ? { exportWh } : {}) });

test('hour buckets are register deltas, interpolated between readings, and add up to the period delta', () => {
  const rs = [r(1, T0 + 0.5 * H, 10_000), r(2, T0 + 1.5 * H, 10_400), r(3, T0 + 2.5 * H, 11_000)];
  const u = usage(rs, 'm', 'hour');
  const imp = u.buckets.map((b) => b.importWh);
  // before the first reading nothing is imported; 10:00-11:00 gets half of each step
  assert.deepEqual(imp, [200, 500, 300]);
  assert.equal(imp.reduce((a, b) => a + b, 0), 11_000 - 10_000);
  assert.ok(imp.every((x) => x < 10_000), 'never a cumulative value');
});

test('a register that goes down adds nothing for that step and counts on from its new value (§6.3)', () => {
  const rs = [r(1, T0, 5000), r(2, T0 + H, 5600), r(3, T0 + 2 * H, 20), r(4, T0 + 3 * H, 320)];
  const u = usage(rs, 'm', 'hour');
  assert.deepEqual(u.buckets.map((b) => b.importWh), [600, 0, 300, 0]);
  assert.deepEqual(u.resets, [{ register: 'import', fromSeq: 2n, toSeq: 3n }]);
});

test('export uses only the readings that carry it; none means 0', () => {
  const u = usage([r(1, T0, 0, 100), r(2, T0 + H, 50), r(3, T0 + 2 * H, 90, 160)], 'm', 'hour');
  assert.deepEqual(u.buckets.map((b) => b.exportWh), [30, 30, 0]);
  assert.deepEqual(usage([r(1, T0, 0), r(2, T0 + H, 50)], 'm', 'day').buckets.map((b) => b.exportWh), [0]);
});

test('at most the latest maxBuckets buckets, ending with the last reading', () => {
  const rs = Array.from({ length: 100 }, (_, i) => r(i + 1, T0 + i * H, i * 10));
  const u = usage(rs, 'm', 'hour', 48);
  assert.equal(u.buckets.length, 48);
  assert.ok(u.buckets.at(-1)!.start <= T0 + 99 * H && u.buckets.at(-1)!.end > T0 + 99 * H);
});

test('gaps: missing seqs and silences longer than three median intervals', () => {
  const g = gaps([r(1, T0, 0), r(2, T0 + 60_000, 0), r(3, T0 + 120_000, 0), r(6, T0 + 180_000, 0), r(7, T0 + 900_000, 0)]);
  assert.deepEqual(g.missing, [[4n, 5n]]);
  assert.equal(g.thresholdMs, 180_000);
  assert.deepEqual(g.silences, [{ from: T0 + 180_000, to: T0 + 900_000 }]);
  assert.deepEqual(gaps([]).missing, []);
});
