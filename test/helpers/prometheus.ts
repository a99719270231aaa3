/**
 * A real Prometheus (Debian's `prometheus`) for tests: our child, on a free 127.0.0.1
 * port, with its TSDB in a folder of the test's; killed when the test process exits.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from './deploy.js';
import { killOnExit } from './children.js';
import { freePort } from './ports.js';
import { sleep } from './until.js';

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PrometheusProcess {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The last lines Prometheus wrote to stderr. */
  log(): string;
  /** An instant query; fails the test on a query error. */
  query(q: string): Promise<Sample[]>;
  stop(): Promise<void>;
}

/**
 * Start Prometheus on `config(port)` (the port it will listen on, for a self-scrape) and
 * wait until it is ready.
 */
export async function startPrometheus(dir: string, config: (port: number) => string): Promise<PrometheusProcess> {
  const bin = requireTool('prometheus', 'prometheus');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, config(port));
  let log = '';
  const p: ChildProcess = spawn(bin, [
    `--config.file=${file}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h', '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(p);
  p.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  p.on('error', (e) => {
    log += `\nspawn: ${e.message}`;
  });
  const end = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) assert.fail(`prometheus exited ${p.exitCode}: ${log}`);
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > end) assert.fail(`prometheus not ready within 30 s: ${log}`);
    await sleep(200);
  }
  return {
    url, port,
    log: () => log,
    async query(q) {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5000) });
      const body = (await r.json()) as { status: string; data: { result: Sample[] }; error?: string };
      assert.equal(body.status, 'success', `${q}: ${body.error}`);
      return body.data.result;
    },
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
