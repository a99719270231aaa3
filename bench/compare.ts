/**
 * Issue 15's comparison rows: the gateway's committed/s against what a user would run
 * instead, with the same load generator (bench/lib/load-client.ts: the same meters, keys,
 * signed readings, window and warm-up), one after the other in one invocation.
 *
 * - bare aedes: stock aedes on 127.0.0.1 (bench/lib/bare-aedes.ts: no checks, no store, no
 *   hooks); a reading counts at its PUBACK, the window closes on PUBACKs.
 * - do-it-yourself: Debian's mosquitto (/usr/sbin/mosquitto, a config file written here, a
 *   free loopback port) plus a minimal consumer (bench/lib/diy-consumer.ts: verify with
 *   node:crypto, append to a file, fsync every 10 ms); a reading counts once the consumer
 *   announces it durable, the window closes on that.
 *
 * Every process started here is stopped here; everything is on loopback and bounded.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, cpuSeconds } from './lib/gateway.js';
import { runLoadProcess } from './lib/load.js';
import type { LoadOptions, LoadResult } from './lib/load-client.js';
import { type ConsumerCounts, DURABLE_TOPIC } from './lib/diy-consumer.js';
import { canConnect, freePort } from '../test/helpers/ports.js';

export const MOSQUITTO = process.env.BENCH_MOSQUITTO ?? '/usr/sbin/mosquitto';

export interface StackRun {
  readonly load: LoadResult;
  /** CPU of the stack's own processes (broker, consumer) per committed reading, µs. */
  readonly stackCpuUsPerReading: number;
}

export interface DiyRun extends StackRun {
  readonly consumer: ConsumerCounts;
  readonly fileBytes: number;
}

/**
 * A rate is read over the window from the end of the warm-up to the end of the load. If the
 * budget of signed readings runs out early, that window shrinks (to nothing, or below zero,
 * when it runs out inside the warm-up: a committed/s of 0 that means nothing). Throws when
 * less than half the asked window was loaded.
 */
export function assertWindow(load: LoadResult, durationMs: number, warmupMs: number, what: string): void {
  const asked = (durationMs - warmupMs) / 1000;
  if (!(load.windowS >= asked / 2)) {
    throw new Error(`${what}: the budget of ${load.sent} readings ran out ${load.windowS.toFixed(1)} s into the ${asked.toFixed(1)} s measured window (after the warm-up); raise the budget`);
  }
}

export interface LoadShape {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly budget: number;
  readonly inFlight: number;
  readonly drainMs?: number;
}

const untilListening = async (port: number, proc: ChildProcess, what: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not listening on ${port} after ${ms} ms`);
};

/** Stop a child: SIGTERM, then SIGKILL after `ms`. */
const stopChild = (p: ChildProcess, ms = 5000): Promise<void> => new Promise((resolve) => {
  if (p.exitCode !== null || p.signalCode !== null) return resolve();
  const t = setTimeout(() => p.kill('SIGKILL'), ms);
  p.once('exit', () => {
    clearTimeout(t);
    resolve();
  });
  p.kill('SIGTERM');
});

/** A dev chain's meters and keys (`meterledger init`), for a load generator against a broker that is not the gateway. */
export async function initMeters(meters: number): Promise<{ dir: string; meterIds: string[]; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-cmp-'));
  const init = await cli(['init', '--data-dir', dir, '--meters', String(meters)], { timeoutMs: 600_000 });
  if (init.code !== 0) throw new Error(`init failed (exit ${init.code}): ${init.stderr} ${init.stdout}`);
  const genesis = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { meters: { id: string }[] };
  return { dir, meterIds: genesis.meters.map((m) => m.id), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const loadOf = (m: { dir: string; meterIds: string[] }, port: number, s: LoadShape, commitOn: LoadOptions['commitOn']): LoadOptions => ({
  meters: m.meterIds.map((id) => ({ id, dataDir: m.dir, mqttUrl: `mqtt://127.0.0.1:${port}` })),
  mode: 'closed', inFlight: s.inFlight, durationMs: s.durationMs, warmupMs: s.warmupMs, budget: s.budget, drainMs: s.drainMs ?? 15_000, commitOn,
});

/** Stock aedes in a child process, the load closed on PUBACKs. */
export async function bareAedesRun(m: { dir: string; meterIds: string[] }, s: LoadShape): Promise<StackRun> {
  const port = await freePort();
  const p = fork(fileURLToPath(new URL('./lib/bare-aedes.js', import.meta.url)), [String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await untilListening(port, p, 'bare aedes');
    let cpu0 = cpuSeconds(p.pid!);
    // Counted from the generator's first reading, connections and subscriptions done (as for the gateway).
    const load = await runLoadProcess(loadOf(m, port, s, 'puback'), undefined, () => {
      cpu0 = cpuSeconds(p.pid!);
    });
    const cpu = cpuSeconds(p.pid!) - cpu0;
    return { load, stackCpuUsPerReading: Math.round((cpu / Math.max(1, load.committed)) * 1e6) };
  } finally {
    if (p.connected) p.send('stop');
    await stopChild(p);
  }
}

/** Debian's mosquitto, installed when missing (waiting up to 10 minutes for another apt run's lock). */
async function installMosquitto(): Promise<void> {
  const args = ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', '--no-install-recommends', 'mosquitto'];
  const [cmd, argv] = process.getuid?.() === 0 ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]];
  console.log(`installing mosquitto: ${cmd} ${argv.join(' ')}`);
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(cmd as string, argv as string[], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    p.once('error', () => resolve(-1));
    p.once('exit', resolve);
  });
  if (code !== 0 || !existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing and apt-get install mosquitto failed (exit ${code})`);
}

/** Debian's mosquitto and the minimal consumer, the load closed on the consumer's durable announcements. */
export async function diyRun(m: { dir: string; meterIds: string[] }, s: LoadShape): Promise<DiyRun> {
  if (!existsSync(MOSQUITTO)) await installMosquitto();
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), 'ml-bench-diy-'));
  const conf = join(work, 'mosquitto.conf');
  // Tuned as a user would for this load: no persistence (the consumer keeps the data), no cap
  // on the queue of the consumer's session (the default 1,000 would drop readings), a wide
  // in-flight window towards it.
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false',
    'max_queued_messages 0', 'max_inflight_messages 1000', 'log_dest stderr', 'log_type error', '',
  ].join('\n'));
  const mosq = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const consumer = fork(fileURLToPath(new URL('./lib/diy-consumer.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const file = join(work, 'readings.log');
  try {
    await untilListening(port, mosq, 'mosquitto');
    await new Promise<void>((resolve, reject) => {
      consumer.once('message', (msg: { started?: true; error?: string }) => (msg.started ? resolve() : reject(new Error(`consumer: ${msg.error}`))));
      consumer.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
      consumer.send({ start: { mqttUrl: `mqtt://127.0.0.1:${port}`, genesisFile: join(m.dir, 'genesis.json'), file } });
    });
    let cpu0 = cpuSeconds(mosq.pid!) + cpuSeconds(consumer.pid!);
    const load = await runLoadProcess(loadOf(m, port, s, { durableTopic: DURABLE_TOPIC }), undefined, () => {
      cpu0 = cpuSeconds(mosq.pid!) + cpuSeconds(consumer.pid!);
    });
    const cpu = cpuSeconds(mosq.pid!) + cpuSeconds(consumer.pid!) - cpu0;
    const counts = await new Promise<ConsumerCounts>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('consumer did not report its counts')), 10_000);
      consumer.once('message', (msg: { counts: ConsumerCounts }) => {
        clearTimeout(t);
        resolve(msg.counts);
      });
      consumer.send({ stop: true });
    });
    return { load, stackCpuUsPerReading: Math.round((cpu / Math.max(1, load.committed)) * 1e6), consumer: counts, fileBytes: statSync(file).size };
  } finally {
    await stopChild(consumer);
    await stopChild(mosq);
    rmSync(work, { recursive: true, force: true });
  }
}
