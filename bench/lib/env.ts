/** What every benchmark result carries: the machine, the runtimes, the package versions, when. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (dist/bench/lib -> ../../..). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Where results go: bench/results, or BENCH_RESULTS_DIR (the CI smoke writes to a temp dir). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? join(ROOT, 'bench', 'results');

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

export function environment(): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    timestamp: new Date().toISOString(),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.versions.node,
    openssl: process.versions.openssl,
    v8: process.versions.v8,
    meterledger: pkg.version,
    packages: Object.fromEntries(['aedes', 'mqtt', 'classic-level', 'nats', 'piscina', 'cborg', 'prom-client', '@noble/curves'].map((n) => [n, pkgVersion(n)])),
  };
}

export type Row = readonly [what: string, value: string, goal: string, verdict: string];

export interface BenchResult {
  readonly name: string;
  readonly rows: Row[];
  /** Everything measured, for the JSON file. */
  readonly data: Record<string, unknown>;
}

export function saveResult(r: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${r.name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ name: r.name, environment: environment(), rows: r.rows, ...r.data }, null, 2) + '\n');
  return file;
}

export function printTable(rows: readonly Row[]): void {
  const head: Row = ['what', 'measured', 'goal', 'verdict'];
  const all = [head, ...rows];
  const w = [0, 1, 2, 3].map((i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: Row): string => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

export const ratio = (x: number): string => x.toFixed(2);
export const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
