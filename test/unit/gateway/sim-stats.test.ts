/** The summaries the simulator and the benches print: nearest-rank percentiles, and the median of pairs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile, summarize } from '../../../gateway/sim/stats.js';

test('median: the middle value of an odd count, the mean of the two middle ones of an even count, order free', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([9, 13, 11, 17]), 12); // not the upper middle (13)
  assert.equal(median([5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('percentile: nearest rank over sorted samples; summarize rounds to a tenth', () => {
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(s, 50), 50);
  assert.equal(percentile(s, 99), 99);
  assert.equal(percentile([], 50), null);
  assert.deepEqual(summarize([3.14159, 1, 2]), { count: 3, p50: 2, p95: 3.1, p99: 3.1, max: 3.1 });
});
