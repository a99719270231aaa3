/**
 * Smoke of the hot-path bench (bench/run.ts `hot-path`) at a tiny size: its flood row only
 * (BENCH_HOT_CASES=flood; its closed-loop rows are the same throughput run as the
 * throughput and p256 benches of smoke.test.ts, but for the decode switch), one pair: decode on the main thread, then in the
 * workers, and the run's own check that the flood's budget outlasted half the measured
 * window. Not judged: its table and JSON, with the figures of both runs as numbers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type BenchRun, assertFigures, benchResult, runBenches } from '../../helpers/bench-smoke.js';

// The flood publishes as fast as the load generator can: 22,000/s in one run here at load
// 24, over 70,000/s at load 6 (a budget of 70,000 was gone inside a 1 s warm-up). The run
// refuses a budget that ran out before half the measured window (assertWindow), so the
// warm-up and the window are short: 100,000 readings last 0.4 s up to 250,000/s.
const TINY = {
  BENCH_CEILING_MS: '300', BENCH_METERS: '20', BENCH_LOAD_MS: '700', BENCH_WARMUP_MS: '100', BENCH_HOT_PAIRS: '1', BENCH_HOT_CASES: 'flood', BENCH_FLOOD_BUDGET: '100000',
};

let run: BenchRun;
before(async () => {
  run = await runBenches(['hot-path'], TINY, 300_000);
}, { timeout: 320_000 });
after(() => run?.cleanup());

test('bench smoke, hot-path: the flood row, decode on the main thread and in the workers', () => {
  const r = benchResult(run, 'hot-path');
  const flood = 'flood, Ed25519';
  assertFigures(r, {
    positive: [`${flood}.verifyUs`, `${flood}.pairRatios.*`, `${flood}.runs.*.efficiency`, `${flood}.runs.*.gatewayCpuUsPerReading`, `${flood}.runs.*.load.sent`, `${flood}.runs.*.load.committed`],
    // Receipts inside a 0.6 s window: on a loaded box the first block (1 s interval) can land after it.
    finite: [`${flood}.runs.*.load.committedPerS`],
  });
  const modes = ((r[flood] as { runs: { mode: string }[] }).runs).map((x) => x.mode).sort();
  assert.deepEqual(modes, ['main', 'workers']);
  assert.deepEqual(Object.keys(r).filter((k) => !['name', 'environment', 'rows'].includes(k)), [flood]);
});
