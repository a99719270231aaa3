/**
 * Smoke of the benchmark runner (bench/run.ts) so its benches cannot rot: the verify
 * ceiling, the single-gateway throughput run (clear, and sealed against clear in one
 * alternating pair), the bill engine and the CBOR canonical check, each at a tiny size for a few
 * seconds, through `node dist/bench/run.js` as `npm run bench` runs it. Not judged: a
 * verdict may say MISSED; the test asserts that each bench ran to its table and wrote its
 * JSON (into a temp dir, not bench/results). The billing and compare benches have their
 * own smokes (billing.test.ts, compare.test.ts). Not here yet: hot-path (its flood run
 * signs its whole budget up front, tens of seconds even at this size), latency, storage,
 * restart, idle and cluster.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../../bench/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ml-bench-smoke-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NAMES = ['ceiling', 'throughput', 'sealed', 'bill-engine', 'cbor-canon'];

test(`bench smoke: ${NAMES.join(', ')} run to their tables at a tiny size`, { timeout: 300_000 }, async () => {
  const env = {
    ...process.env, BENCH_RESULTS_DIR: dir, BENCH_METERS: '20', BENCH_LOAD_MS: '6000', BENCH_SEALED_PAIRS: '1', BENCH_BILLS: '50',
    BENCH_CBOR_ROUNDS: '2', BENCH_CBOR_PER_ROUND: '20',
  };
  const child = spawn(process.execPath, [RUN, ...NAMES], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `bench run failed\n${out.slice(-3000)}\n${err.slice(-3000)}`);
  for (const n of NAMES) {
    assert.match(out, new RegExp(`^## ${n}$`, 'm'), `${n}: its table`);
    const result = JSON.parse(readFileSync(join(dir, `${n}.json`), 'utf8')) as { name: string; rows: unknown[] };
    assert.equal(result.name, n);
    assert.ok(result.rows.length > 0, `${n}: rows`);
  }
});
