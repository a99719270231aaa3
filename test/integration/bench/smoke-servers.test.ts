/**
 * Smoke of the benches that start servers of their own, at a tiny size, in one
 * `node dist/bench/run.js` process: cluster (nats-server on loopback and four validator
 * gateways; it also writes catchup, a validator killed and restarted under load, and needs
 * the single-gateway throughput run for its ratio), restart (a store built with the store
 * API, the gateway started on it twice) and idle (raw MQTT connections left idle). Not
 * judged: each bench's table and JSON with its figures as numbers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type BenchRun, assertFigures, benchResult, runBenches } from '../../helpers/bench-smoke.js';

const NAMES = ['cluster', 'restart', 'idle'];
const TINY = {
  BENCH_CEILING_MS: '300', BENCH_METERS: '20', BENCH_WINDOW: '500', BENCH_LOAD_MS: '5000', BENCH_WARMUP_MS: '1000', BENCH_BUDGET: '30000',
  BENCH_CLUSTER_METERS: '10', BENCH_CATCHUP_MS: '3000', BENCH_RESTART_BLOCKS: '20', BENCH_RESTART_BLOCK_TXS: '100', BENCH_IDLE_METERS: '50', BENCH_IDLE_SAMPLES: '1',
};

let run: BenchRun;
before(async () => {
  run = await runBenches(NAMES, TINY, 480_000);
}, { timeout: 500_000 });
after(() => run?.cleanup());

test('bench smoke, cluster: four validators under load against the single gateway', () => {
  const r = benchResult(run, 'cluster');
  // committed/s counts receipts inside the 4 s window: on this box at load 24 a commit took 7-8 s
  // with four validators, none landed inside it (ratio 0), and all 500 sent committed in the drain.
  assertFigures(r, { positive: ['singlePerS', 'load.sent', 'load.committed', 'gatewayCpuUsPerReading.*', 'gatewayViews.*.blockIntervalMeanMs'], finite: ['ratio', 'load.committedPerS', 'machineBusy'] });
  assert.equal((r.gatewayViews as unknown[]).length, 4);
});

test('bench smoke, catchup: the restarted validator syncs what it missed', () => {
  const r = benchResult(run, 'catchup');
  assertFigures(r, { positive: ['blocks', 'readings', 'seconds', 'target', 'reached'], finite: ['heightAtStart'] });
  assert.equal(typeof r.sameHeadAfter, 'boolean');
});

test('bench smoke, restart: start to serving on a built store, twice', () => {
  const r = benchResult(run, 'restart');
  assertFigures(r, { positive: ['readings', 'blocks', 'buildSeconds', 'storeBytes', 'startSeconds.*'] });
  assert.equal((r.startSeconds as unknown[]).length, 2);
});

test('bench smoke, idle: resident memory per idle connected meter', () => {
  // Per meter is a difference of two RSS readings: at 50 meters it can come out below 0.
  assertFigures(benchResult(run, 'idle'), { positive: ['meters', 'connected', 'seconds', 'rssBeforeBytes', 'rssAfterBytes'], finite: ['failed', 'perMeterBytes', 'perMeterBytesEvery5s.*'] });
});
