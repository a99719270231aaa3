/**
 * Smoke of the benchmark runner (bench/run.ts) so its benches cannot rot: the verify
 * ceiling, the single-gateway throughput run (Ed25519 and ES256), latency (two paced runs),
 * storage (the throughput run's store), sealed against clear in one alternating pair (end to
 * end, and the intake alone in process: sealed-intake), the
 * bill engine, the confidential micro-benchmark and the CBOR canonical check (cbor-canon), in one `node dist/bench/run.js`
 * process (latency and storage reuse the throughput run, as in `npm run bench`), each at a
 * tiny size through its env knobs. Not judged: each bench's test checks that it ran to its
 * table and wrote its JSON (into a temp dir) with its figures as numbers. Also smoked:
 * hot-path (smoke-hot-path.test.ts); cluster with catchup, restart and idle
 * (smoke-servers.test.ts); billing and compare (billing.test.ts, compare.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type BenchRun, assertFigures, benchResult, runBenches } from '../../helpers/bench-smoke.js';

const NAMES = ['ceiling', 'throughput', 'p256', 'latency', 'storage', 'sealed', 'sealed-intake', 'bill-engine', 'confidential', 'cbor-canon'];
const TINY = {
  BENCH_CEILING_MS: '300', BENCH_METERS: '20', BENCH_WINDOW: '500', BENCH_LOAD_MS: '5000', BENCH_WARMUP_MS: '1000', BENCH_BUDGET: '30000',
  BENCH_LATENCY_MS: '3000', BENCH_SEALED_PAIRS: '1', BENCH_BILLS: '50', BENCH_CONFIDENTIAL_MS: '2',
  BENCH_CBOR_ROUNDS: '2', BENCH_CBOR_PER_ROUND: '20',
  BENCH_INTAKE_METERS: '10', BENCH_INTAKE_PER_METER: '20', BENCH_INTAKE_PAIRS: '1',
};

let run: BenchRun;
before(async () => {
  run = await runBenches(NAMES, TINY, 480_000);
}, { timeout: 500_000 });
after(() => run?.cleanup());

/** A single-gateway run's figures (throughput, p256, and each run inside sealed and hot-path). */
const THROUGHPUT_RUN = ['ceiling', 'ratio', 'gatewayCpuUsPerReading', 'load.sent', 'load.committed', 'load.committedPerS', 'load.sentPerS', 'load.latency.p50', 'load.latency.p99', 'load.ackLatency.p99', 'load.signedBytesAvg', 'load.clientCpuS'];

test('bench smoke, ceiling: both verify ceilings', () => {
  assertFigures(benchResult(run, 'ceiling'), { positive: ['ed25519PerS', 'p256PerS'] });
});

test('bench smoke, throughput: the Ed25519 run, its bounds and receipt size', () => {
  const r = benchResult(run, 'throughput');
  assertFigures(r, {
    positive: [...THROUGHPUT_RUN, 'load.receiptBytesAvg', 'load.receiptsVerified', 'bounds.verifyUs', 'bounds.clientUs', 'bounds.loadBound', 'bounds.gatewayBound', 'gatewayView.blockIntervalMeanMs'],
    finite: ['machineBusy', 'load.missing', 'load.receiptsInvalid'],
  });
  assert.equal(r.alg, 'Ed25519');
});

test('bench smoke, p256: the ES256 run against the P-256 ceiling', () => {
  const r = benchResult(run, 'p256');
  assertFigures(r, { positive: [...THROUGHPUT_RUN, 'bounds.loadBound', 'bounds.gatewayBound'], finite: ['machineBusy'] });
  assert.equal(r.alg, 'P-256');
});

test('bench smoke, latency: receipt and PUBACK percentiles at 50% and 80% of saturation', () => {
  const l = ['latency.p50', 'latency.p95', 'latency.p99', 'ackLatency.p50', 'ackLatency.p99', 'committed'];
  assertFigures(benchResult(run, 'latency'), {
    positive: ['saturationPerS', 'blockIntervalMs', 'p99At50OverGoal', 'ackP99At50OverGoal', ...l.map((p) => `at50.${p}`), ...l.map((p) => `at80.${p}`)],
  });
});

test('bench smoke, storage: bytes on disk per reading of the throughput run', () => {
  assertFigures(benchResult(run, 'storage'), { positive: ['readings', 'blocks', 'signedBytes', 'diskBytes', 'perReading', 'ratioToSigned'] });
});

test('bench smoke, sealed: one clear and one sealed run, their CPU ratio', () => {
  const r = benchResult(run, 'sealed');
  assertFigures(r, { positive: ['cpuRatio', 'pairRatios.*', 'runs.*.run.gatewayCpuUsPerReading', 'runs.*.run.load.committed'] });
  assert.equal((r.runs as unknown[]).length, 2);
});

test('bench smoke, sealed-intake: main thread and process CPU per committed reading, sealed vs clear', () => {
  const r = benchResult(run, 'sealed-intake');
  // CPU from /proc in 10 ms ticks: at this size a thread's figure may be 0, so only finite.
  assertFigures(r, { positive: ['runs.*.readings'], finite: ['mainRatio.x', 'processRatio.x', 'runs.*.mainUs', 'runs.*.processUs'] });
  assert.equal((r.runs as unknown[]).length, 2);
});

test('bench smoke, bill-engine: compute and validate CPU per bill', () => {
  assertFigures(benchResult(run, 'bill-engine'), {
    positive: ['bills', 'readingsPerBill', 'computeMs.cpuMs', 'computeMs.p99', 'validateMs.cpuMs', 'validateMs.p99', 'ed25519CeilingPerS', 'verifyMsPerCore', 'engineSecondsFor1000Bills', 'lines', 'billCborBytes'],
  });
});

test('bench smoke, confidential: every per-call figure and size', () => {
  const figures = ['sealOnlyUs', 'wrap3Us', 'unwrapX25519Us', 'unwrapP256Us', 'decryptUs', 'verifyDisclosureUs'];
  for (const a of ['Ed25519', 'ES256']) {
    figures.push(`meter${a}ClearUs`, `meter${a}SealedUs`, `meter${a}Ratio`, `gateway${a}ClearUs`, `gateway${a}SealedUs`, `gateway${a}Ratio`, `decode${a}ClearUs`, `decode${a}SealedUs`, `${a}ClearBytes`, `${a}SealedBytes`);
  }
  assertFigures(benchResult(run, 'confidential'), { positive: figures });
});

test('bench smoke, cbor-canon: re-encode and one-pass check per message, their ratio', () => {
  const r = benchResult(run, 'cbor-canon');
  const per = ['items', 'bytes', 'reencodeUs.*', 'onePassUs.*', 'ratios.*', 'medianReencodeUs', 'medianOnePassUs', 'medianRatio'];
  assertFigures(r, { positive: ['rounds', 'perRound', ...['reading tx', 'sealed reading tx', 'bill'].flatMap((m) => per.map((p) => `${m}.${p}`))] });
});
