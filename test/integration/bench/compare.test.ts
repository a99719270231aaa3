/**
 * Smoke of the comparison benchmark (bench/compare.ts, `npm run bench -- compare`) at a
 * small size, so it cannot rot: stock aedes and Debian's mosquitto with the minimal
 * consumer are started, loaded by the bench's own load generator, and stopped. Not judged:
 * only that readings get through and the consumer verifies and writes every one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bareAedesRun, diyRun, initMeters } from '../../../bench/compare.js';

let m: Awaited<ReturnType<typeof initMeters>>;
before(async () => {
  m = await initMeters(10);
});
after(() => m?.cleanup());

// A budget that outlasts the warm-up even against stock aedes (over 10,000 PUBACKs/s here).
const shape = { durationMs: 1500, warmupMs: 300, budget: 40_000, inFlight: 200, drainMs: 5000 };

test('compare smoke: stock aedes acknowledges the load generator\'s readings', { timeout: 60_000 }, async () => {
  const r = await bareAedesRun(m, shape);
  assert.ok(r.load.sent > 0);
  assert.equal(r.load.committed, r.load.acked);
  assert.equal(r.load.missing, 0);
  assert.ok(r.load.committedPerS > 0, JSON.stringify(r.load));
});

test('compare smoke: mosquitto + the minimal consumer verifies, writes and announces every reading', { timeout: 60_000 }, async () => {
  const r = await diyRun(m, shape);
  assert.ok(r.load.sent > 0);
  assert.ok(r.load.committedPerS > 0, JSON.stringify({ load: r.load, consumer: r.consumer }));
  assert.equal(r.load.missing, 0, JSON.stringify(r.load));
  assert.equal(r.consumer.badSignature, 0);
  assert.equal(r.consumer.undecodable, 0);
  assert.equal(r.consumer.unknownMeter, 0);
  assert.equal(r.consumer.verified, r.load.sent);
  assert.equal(r.consumer.durable, r.consumer.verified);
  assert.equal(r.load.committed, r.load.sent);
  assert.ok(r.fileBytes > r.load.sent * 100, `${r.fileBytes} bytes for ${r.load.sent} readings`);
});
