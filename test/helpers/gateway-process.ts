/** Run the real `meterledger` CLI as a child process, on loopback ports of its own. */
import { readFileSync } from 'node:fs';
import { type ChildProcess, spawn, execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

export const CLI = fileURLToPath(new URL('../../gateway/cli/main.js', import.meta.url));


export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run one CLI command to completion; `clean` gives it only PATH and `env` (no METERLEDGER_* of ours). */
export async function cli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; clean?: boolean } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, env: { ...(opts.clean ? { PATH: process.env.PATH ?? '' } : process.env), ...opts.env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; signal?: string | null; stdout?: string; stderr?: string };
    const why = err.signal ? `killed by ${err.signal}` : typeof err.code === 'string' ? err.code : '';
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: [err.stderr, why].filter(Boolean).join('\n') || String(e) };
  }
}

/**
 * The admin token of test gateways started without their own --config (given through
 * METERLEDGER_HTTP_ADMIN_TOKEN): reading meters' data needs it (docs/http-api.md §Access).
 */
export const TEST_ADMIN_TOKEN = 'test-gateway-admin-token';

/** True when the --config file in `args` sets the admin token itself (the test then sets GatewayProcess.adminToken). */
function configSetsAdminToken(args: readonly string[]): boolean {
  const i = args.indexOf('--config');
  if (i < 0) return false;
  try {
    const http = (JSON.parse(readFileSync(args[i + 1]!, 'utf8')) as { http?: Record<string, unknown> }).http;
    return http?.adminToken !== undefined || http?.adminTokenFile !== undefined;
  } catch {
    return false;
  }
}

export class GatewayProcess {
  proc: ChildProcess | undefined;
  stderr = '';
  /** What it printed on stdout: the start banner (genesis hash, listening addresses). */
  stdout = '';
  readonly mqttUrl: string;
  readonly httpUrl: string;
  /** More environment for the gateway process (e.g. a test hook's variable). */
  env: Record<string, string> = {};

  constructor(readonly dataDir: string, readonly mqttPort: number, readonly httpPort: number, readonly extraArgs: string[] = []) {
    this.mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    this.httpUrl = `http://127.0.0.1:${httpPort}`;
  }

  static async create(dataDir: string, extraArgs: string[] = []): Promise<GatewayProcess> {
    return new GatewayProcess(dataDir, await freePort(), await freePort(), extraArgs);
  }

  /**
   * Start and wait until /readyz answers 200 (in a cluster: it counts a quorum and has
   * caught up), or with `until: 'listening'` only until /healthz does: HTTP opens after
   * the node and MQTT, so the gateway takes readings then, quorum or not.
   */
  async start(timeoutMs = 20_000, opts: { until?: 'ready' | 'listening' } = {}): Promise<void> {
    const probe = opts.until === 'listening' ? '/healthz' : '/readyz';
    this.stderr = '';
    this.stdout = '';
    const p = spawn(process.execPath, [CLI, 'start', '--data-dir', this.dataDir, '--mqtt-port', String(this.mqttPort), '--http-port', String(this.httpPort), ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(configSetsAdminToken(this.extraArgs) ? {} : { METERLEDGER_HTTP_ADMIN_TOKEN: TEST_ADMIN_TOKEN }), ...this.env },
    });
    this.proc = p;
    p.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 1 << 20) this.stderr = this.stderr.slice(-(1 << 19));
    });
    p.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      if (this.stdout.length > 1 << 20) this.stdout = this.stdout.slice(-(1 << 19));
    });
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (p.exitCode !== null) throw new Error(`gateway exited with ${p.exitCode}: ${this.stderr}`);
      try {
        const r = await fetch(`${this.httpUrl}${probe}`);
        if (r.status === 200) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gateway not ready after ${timeoutMs} ms: ${this.stderr}`);
  }

  /** SIGTERM (or `signal`) and wait for exit; returns the exit code (null if a signal killed it). */
  async stop(timeoutMs = 15_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  /** kill -9: no chance to flush anything. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  }

  /** The admin token `get` and `json` send: a test whose --config sets another one sets it here. */
  adminToken = TEST_ADMIN_TOKEN;

  get operator(): Record<string, string> {
    return { authorization: `Bearer ${this.adminToken}` };
  }

  /** GET with the operator's token (reading meters' data needs it). */
  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.httpUrl}${path}`, { headers: { ...this.operator, ...headers } });
  }

  async json<T = unknown>(path: string): Promise<{ status: number; body: T }> {
    const r = await this.get(path);
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: body as T };
  }
}

export interface LogLine {
  readonly level?: number;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** The JSON log lines of a gateway's stderr (the start banner and other plain lines are skipped). */
export function logLines(stderr: string): LogLine[] {
  return stderr.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Log lines at error level or above (pino: error 50, fatal 60). */
export const errorLines = (stderr: string): LogLine[] => logLines(stderr).filter((l) => (l.level ?? 0) >= 50);

/** Committed sequence numbers of a meter, paging through the read API. */
export async function committedSeqs(gw: GatewayProcess, meterId: string): Promise<Set<string>> {
  const out = new Set<string>();
  let from = '0';
  for (;;) {
    const r = await gw.json<{ readings: { seq: string }[] }>(`/api/v1/meters/${meterId}/readings?fromSeq=${from}&limit=1000`);
    for (const x of r.body.readings) out.add(x.seq);
    if (r.body.readings.length < 1000) return out;
    from = (BigInt(r.body.readings.at(-1)!.seq) + 1n).toString();
  }
}
