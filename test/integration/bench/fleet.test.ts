/**
 * Smoke of the fleet bench (bench/fleet.ts) so that it cannot rot: 50 meters, each one
 * reading in a 10 s period, through `node dist/bench/run.js fleet` as `npm run bench` runs
 * it, its JSON written to a temp dir. Not judged on speed (a loaded box may miss the PUBACK
 * goal): the test asserts that every meter connected, every reading was acknowledged and
 * committed, none refused or lost, and that the figures the table reports are in the JSON.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const RUN = fileURLToPath(new URL('../../../bench/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ml-bench-fleet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const METERS = 50;

interface Latency { count: number; p50: number | null; p95: number | null; p99: number | null }

test('bench smoke: fleet, 50 meters, one reading each, nothing refused or lost', { timeout: 180_000 }, async () => {
  const env = {
    ...process.env, BENCH_RESULTS_DIR: dir, BENCH_FLEET_METERS: String(METERS), BENCH_FLEET_MS: '10000', BENCH_FLEET_PERIOD_MS: '10000', BENCH_FLEET_CONNECT_PER_S: '100',
    BENCH_FLEET_MEMORY_SAMPLE_MS: '2000',
  };
  // execFile rejects on a non-zero exit, its error carrying the run's stdout and stderr.
  const { stdout: out } = await run(process.execPath, [RUN, 'fleet'], { env, maxBuffer: 1 << 24 });
  assert.match(out, /^## fleet$/m, 'its table');
  const r = JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8')) as {
    name: string; rows: unknown[]; meters: number; capped: boolean; connected: number; connectFailed: number; connectFailedBy: Record<string, number>; dropped: number;
    sent: number; acked: number; committed: number; refused: number; lost: number; unacked: number;
    pubackMs: Latency; receiptMs: Latency; gatewayPeakRssBytes: number; gatewayCpuUsPerReading: number; loadAverageStart: number[];
    memorySamples: { s: number; rssBytes: number; heapUsedBytes: number }[];
  };
  assert.equal(r.name, 'fleet');
  assert.equal(r.rows.length, 8);
  assert.equal(r.meters, METERS);
  assert.equal(r.capped, false);
  assert.equal(r.connected, METERS);
  assert.equal(r.connectFailed, 0);
  assert.deepEqual(r.connectFailedBy, {});
  assert.equal(r.dropped, 0);
  // One reading per meter: the period is the load's length and every phase falls inside it.
  assert.equal(r.sent, METERS);
  assert.equal(r.acked, METERS);
  assert.equal(r.committed, METERS);
  assert.equal(r.refused, 0);
  assert.equal(r.lost, 0);
  assert.equal(r.unacked, 0);
  for (const l of [r.pubackMs, r.receiptMs]) {
    assert.equal(l.count, METERS);
    assert.ok(l.p50 !== null && l.p99 !== null && l.p50 > 0 && l.p99 >= l.p50, `percentiles ${JSON.stringify(l)}`);
  }
  assert.ok(r.receiptMs.p50! >= r.pubackMs.p50!, 'a receipt comes after its PUBACK');
  assert.ok(r.gatewayPeakRssBytes > 10 * 2 ** 20, `peak RSS ${r.gatewayPeakRssBytes}`);
  assert.ok(r.gatewayCpuUsPerReading > 0, 'gateway CPU per reading');
  // Memory sampled every 2 s over the 10 s load: RSS from /proc, the heap from the gateway's /metrics.
  assert.ok(r.memorySamples.length >= 3, `memory samples ${JSON.stringify(r.memorySamples)}`);
  for (const m of r.memorySamples) assert.ok(m.rssBytes > 10 * 2 ** 20 && m.heapUsedBytes > 2 ** 20 && m.heapUsedBytes < m.rssBytes, `sample ${JSON.stringify(m)}`);
  for (let i = 1; i < r.memorySamples.length; i++) assert.ok(r.memorySamples[i]!.s > r.memorySamples[i - 1]!.s, 'samples in time order');
  assert.equal(r.loadAverageStart.length, 3);
});
