/**
 * The benchmark smokes (test/integration/bench/smoke*.test.ts): run some benches through
 * `node dist/bench/run.js` as `npm run bench` does, at a tiny size set by their env knobs
 * (docs/performance.md), results into a temp dir; then, bench by bench, check that it
 * printed its table and wrote its JSON with its figures as numbers. Nothing is judged: a
 * verdict may say MISSED.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

export interface BenchRun {
  readonly names: readonly string[];
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
  readonly seconds: number;
  readonly dir: string;
  cleanup(): void;
}

/** One `run.js` process for `names`, killed after `timeoutMs`; never throws (each bench's test says what went wrong). */
export async function runBenches(names: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<BenchRun> {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-smoke-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [RUN, ...names], { env: { ...process.env, ...env, BENCH_RESULTS_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  // The runner's "(N s; <dir>/<name>.json)" after each table: where the time went, in the test's output.
  const each = [...out.matchAll(/^\((\d+) s; .*?([^/]+)\.json\)$/gm)].map((m) => `${m[2]} ${m[1]} s`);
  console.log(`bench smoke: ${seconds.toFixed(0)} s (${each.join(', ')})`);
  return { names, code, out, err, seconds, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bench's table was printed and its JSON written (else: where the run stopped, and its output's tail); the JSON. */
export function benchResult(run: BenchRun, name: string): Record<string, unknown> {
  const file = join(run.dir, `${name}.json`);
  const stoppedIn = [...run.out.matchAll(/^## (\S+)$/gm)].at(-1)?.[1];
  const why = `${name}: the run of ${run.names.join(', ')} exited ${run.code} after ${run.seconds.toFixed(0)} s, last in "${stoppedIn}"\n${run.out.slice(-3000)}\n${run.err.slice(-3000)}`;
  assert.ok(existsSync(file), why);
  assert.match(run.out, new RegExp(`^## ${name}$`, 'm'), why);
  const r = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  assert.equal(r.name, name);
  assert.ok(Array.isArray(r.rows) && r.rows.length > 0, `${name}: rows`);
  return r;
}

/** The values at a dotted path; `*` stands for every element of an array or value of an object. */
function valuesAt(x: unknown, path: readonly string[]): { at: string; value: unknown }[] {
  if (path.length === 0) return [{ at: '', value: x }];
  const [head, ...rest] = path as [string, ...string[]];
  if (x === null || typeof x !== 'object') return [{ at: head, value: undefined }];
  const o = x as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(o) : [head];
  if (keys.length === 0) return [{ at: head, value: undefined }]; // `*` over nothing: a missing figure
  return keys.flatMap((k) => valuesAt(o[k], rest).map((v) => ({ at: v.at ? `${k}.${v.at}` : k, value: v.value })));
}

/** Every figure named is a finite number; those under `positive` also > 0. */
export function assertFigures(r: Record<string, unknown>, f: { positive?: readonly string[]; finite?: readonly string[] }): void {
  for (const [paths, min] of [[f.positive ?? [], true], [f.finite ?? [], false]] as const) {
    for (const p of paths) {
      for (const { at, value } of valuesAt(r, p.split('.'))) {
        const what = `${r.name}: ${at || p} = ${JSON.stringify(value)}`;
        assert.ok(typeof value === 'number' && Number.isFinite(value), `${what}, not a finite number`);
        if (min) assert.ok(value > 0, `${what}, not > 0`);
      }
    }
  }
}
