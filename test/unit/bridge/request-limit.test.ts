import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestLimiter } from '../../../bridge/mqtt/request-limit.js';

test('receipt requests: a burst of 10 per meter, then 1 a second; meters are counted apart', () => {
  const l = new RequestLimiter({ burst: 10, perSecond: 1 });
  const t0 = 1_000_000;
  for (let i = 0; i < 10; i++) assert.equal(l.take('m1', t0), true, `request ${i}`);
  assert.equal(l.take('m1', t0), false, 'the 11th at once');
  assert.equal(l.take('m2', t0), true, 'another meter has its own bucket');
  assert.equal(l.take('m1', t0 + 999), false, 'not yet a token back');
  assert.equal(l.take('m1', t0 + 1000), true, 'one a second');
  assert.equal(l.take('m1', t0 + 1000), false);
  // A clock going back gives nothing back.
  assert.equal(l.take('m1', t0 - 60_000), false);
  // After a long pause the bucket is full again, not fuller.
  const later = t0 + 3_600_000;
  for (let i = 0; i < 10; i++) assert.equal(l.take('m1', later), true);
  assert.equal(l.take('m1', later), false);
});
