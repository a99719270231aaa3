/** A gateway for a benchmark: a fresh data dir, a config file, the real CLI as a child process. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, GatewayProcess, cli } from '../../test/helpers/gateway-process.js';

export { GatewayProcess, cli };

export interface BenchGateway {
  readonly gw: GatewayProcess;
  readonly dir: string;
  readonly meterIds: string[];
  cleanup(): void;
}

/** `meterledger init` a dev chain of `meters` meters and start a gateway on it. */
export async function startBenchGateway(o: {
  meters: number; alg?: 'Ed25519' | 'ES256'; config?: Record<string, unknown>; cpuProfDir?: string; baseDir?: string; startTimeoutMs?: number;
  /** Every meter confidential (`init --confidential`): the load generator seals its readings. */
  confidential?: boolean;
}): Promise<BenchGateway> {
  const dir = mkdtempSync(join(o.baseDir ?? tmpdir(), 'ml-bench-'));
  const init = await cli(['init', '--data-dir', dir, '--meters', String(o.meters), ...(o.alg ? ['--meter-alg', o.alg] : []), ...(o.confidential ? ['--confidential'] : [])], { timeoutMs: 600_000 });
  if (init.code !== 0) throw new Error(`init failed (exit ${init.code}): ${init.stderr} ${init.stdout}`);
  const cfg = join(dir, 'bench-config.json');
  writeFileSync(cfg, JSON.stringify(o.config ?? {}));
  const gw = await GatewayProcess.create(dir, ['--config', cfg, '--log-level', 'warn']);
  await startWithProfile(gw, o.cpuProfDir, o.startTimeoutMs);
  const genesis = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { meters: { id: string }[] };
  return { gw, dir, meterIds: genesis.meters.map((m) => m.id), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Start, with `node --cpu-prof` when a folder is given (the profile is written at a clean
 * exit; Node 20 refuses --cpu-prof in NODE_OPTIONS, so the child is spawned here).
 */
export async function startWithProfile(gw: GatewayProcess, cpuProfDir?: string, timeoutMs = 60_000): Promise<void> {
  if (!cpuProfDir) return gw.start(timeoutMs);
  gw.stderr = '';
  const p = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, CLI, 'start', '--data-dir', gw.dataDir,
    '--mqtt-port', String(gw.mqttPort), '--http-port', String(gw.httpPort), ...gw.extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  gw.proc = p;
  p.stderr!.on('data', (d: Buffer) => {
    gw.stderr = (gw.stderr + d.toString()).slice(-(1 << 19));
  });
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (p.exitCode !== null) throw new Error(`gateway exited with ${p.exitCode}: ${gw.stderr}`);
    if ((await fetch(`${gw.httpUrl}/readyz`).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway not ready after ${timeoutMs} ms`);
}

/** Resident set size of a process, bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU seconds (user + system, all threads) a process has used (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** CPU seconds of a process's main thread and of each other thread, by thread id (Linux /proc). */
export function cpuSecondsByThread(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out[tid === String(pid) ? 'main' : tid] = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Busy share of the whole machine between two /proc/stat readings. */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export { metric } from '../../test/helpers/metrics.js';
