/** A meter gone silent: the threshold of gateway/http/silence.ts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SILENCE_MIN_MS, silenceThreshold } from '../../../gateway/http/silence.js';

test('three times the median interval, at least a minute; a configured threshold wins', () => {
  const quarter = 15 * 60_000;
  assert.equal(silenceThreshold([0, quarter, 2 * quarter, 3 * quarter, 10 * quarter]), 3 * quarter, 'one long gap does not move the median');
  assert.equal(silenceThreshold([0, 1000, 2000, 3000]), SILENCE_MIN_MS);
  assert.equal(silenceThreshold([0, 1000, 2000], 5000), 5000);
  assert.equal(silenceThreshold([5000]), undefined, 'one reading has no interval');
  assert.equal(silenceThreshold([], 7000), 7000);
  assert.equal(silenceThreshold([0, 100_000, 100_000, 300_000]), 450_000, 'even count: the mean of the middle two (100 s, 200 s) times 3');
});
