/**
 * A substation's fleet (issue 15): many connected meters, each publishing one signed
 * reading every period (60 s) at its own phase, spread evenly over the period, QoS 1,
 * against one gateway on this machine. Goal at 50,000 meters: PUBACK p99 <= 100 ms, RSS <=
 * 1.5 GB, nothing refused. A gateway holds one open file per connection, so the meter count
 * is capped to what its open-file limit allows (the table says so); the meters are split
 * over child processes (bench/lib/fleet-client.ts), each within its own limit.
 *
 * BENCH_FLEET_METERS (default 50,000, capped), BENCH_FLEET_MS (load after all connected,
 * default 180 s), BENCH_FLEET_PERIOD_MS (default 60 s), BENCH_FLEET_CONNECT_PER_S (default
 * 200, over all slices), BENCH_FLEET_PROCS (default one per 5,000 meters), BENCH_FLEET_DRAIN_MS
 * (how long receipts are awaited after the last publish, default 30 s),
 * BENCH_FLEET_MEMORY_SAMPLE_MS (the gateway's RSS and heap sampled over the load, default 15 s).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../gateway/sim/stats.js';
import { type BenchResult, type Row, verdict } from './lib/env.js';
import { cpuSeconds, machineTicks, metric, startBenchGateway } from './lib/gateway.js';
import type { FleetOpen, FleetOpened, FleetRun, FleetSliceResult } from './lib/fleet-client.js';

const GOAL_METERS = 50_000;
/** Open files the gateway needs beside its connections: store, write-ahead, listeners, workers, pipes. */
const FD_HEADROOM = 500;
const CLIENT = fileURLToPath(new URL('./lib/fleet-client.js', import.meta.url));

/** The soft limit on open files this process (and so the gateway it spawns) runs with (Linux /proc). */
export function openFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Peak and current resident set of a process, bytes (VmHWM, VmRSS). */
function memoryOf(pid: number): { peak: number; now: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

interface MemorySample { s: number; rssBytes: number; heapUsedBytes: number }

/**
 * Samples the gateway's resident set and V8 heap in use every `everyMs` until
 * stopped: does memory grow with the readings committed, or level off?
 */
function sampleMemory(pid: number, httpUrl: string, everyMs: number): { stop: () => MemorySample[] } {
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const take = (): void => {
    const s = (performance.now() - t0) / 1000;
    const rssBytes = memoryOf(pid).now;
    void metric(httpUrl, 'meterledger_nodejs_heap_size_used_bytes').catch(() => NaN).then((heapUsedBytes) => samples.push({ s, rssBytes, heapUsedBytes }));
  };
  const timer = setInterval(take, everyMs);
  // A copy: a scrape still under way when stopped lands in `samples`, not in the result.
  return { stop: () => { clearInterval(timer); return [...samples].sort((a, b) => a.s - b.s); } };
}

/** MB per minute between the samples of the run's second half (first and last), or undefined with fewer than two. */
function growthPerMinute(samples: readonly MemorySample[], key: 'rssBytes' | 'heapUsedBytes'): number | undefined {
  const last = samples.at(-1);
  if (!last) return undefined;
  const half = samples.filter((x) => x.s >= last.s / 2);
  const a = half[0]!;
  if (a === last) return undefined;
  return ((last[key] - a[key]) / 2 ** 20) / ((last.s - a.s) / 60);
}

/** One request to a slice and its one answer. */
function ask<T>(p: ChildProcess, msg: unknown, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fleet slice gave no '${key}' within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: Record<string, unknown>): void => {
      if (!(key in m) && !('error' in m)) return;
      clearTimeout(t);
      p.off('message', on);
      if ('error' in m) reject(new Error(`fleet slice failed: ${String(m.error)}`));
      else resolve(m[key] as T);
    };
    p.on('message', on);
    p.send(msg as object);
  });
}

const mb = (b: number): string => `${Math.round(b / 2 ** 20)} MB`;
const perMin = (x: number | undefined): string => (x === undefined ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(1)} MB/min`);
const ms = (l: ReturnType<typeof summarize>): string => `p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} ms`;

export async function fleetBench(): Promise<BenchResult> {
  const asked = Number(process.env.BENCH_FLEET_METERS ?? GOAL_METERS);
  const durationMs = Number(process.env.BENCH_FLEET_MS ?? 180_000);
  const periodMs = Number(process.env.BENCH_FLEET_PERIOD_MS ?? 60_000);
  const connectPerS = Number(process.env.BENCH_FLEET_CONNECT_PER_S ?? 200);
  const drainMs = Number(process.env.BENCH_FLEET_DRAIN_MS ?? 30_000);
  const memorySampleMs = Number(process.env.BENCH_FLEET_MEMORY_SAMPLE_MS ?? 15_000);
  const limit = openFileLimit();
  const cap = limit.soft - FD_HEADROOM;
  const meters = Math.max(1, Math.min(asked, cap));
  const capped = meters < asked;
  const procs = Math.max(1, Number(process.env.BENCH_FLEET_PROCS ?? Math.ceil(meters / 5000)));
  const load0 = loadavg();

  const initT0 = performance.now();
  const g = await startBenchGateway({ meters, startTimeoutMs: 600_000 });
  const initS = (performance.now() - initT0) / 1000;
  console.log(`  ${meters} meters${capped ? ` (capped from ${asked})` : ''}: chain made and gateway up in ${initS.toFixed(0)} s; connecting at ${connectPerS}/s over ${procs} processes`);
  const slices = Array.from({ length: procs }, () => fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    const pid = g.gw.proc!.pid!;
    const chainId = (JSON.parse(readFileSync(join(g.dir, 'genesis.json'), 'utf8')) as { chainId: string }).chainId;
    const parts = slices.map((_, s) => g.meterIds.filter((_, k) => k % procs === s));
    const opened = await Promise.all(slices.map((p, s) => ask<FleetOpened>(p, {
      open: { mqttUrl: g.gw.mqttUrl, dataDir: g.dir, chainId, meterIds: parts[s]!, connectPerS: connectPerS / procs } satisfies FleetOpen,
    }, 'opened', (meters / connectPerS) * 1000 * 3 + 120_000)));
    const connected = opened.reduce((a, o) => a + o.connected, 0);
    const connectFailed = opened.reduce((a, o) => a + o.failed, 0);
    const connectFailedBy: Record<string, number> = {};
    for (const o of opened) for (const [why, n] of Object.entries(o.failedBy)) connectFailedBy[why] = (connectFailedBy[why] ?? 0) + n;
    const connectS = Math.max(...opened.map((o) => o.seconds));
    console.log(`  ${connected} connected, ${connectFailed} failed ${JSON.stringify(connectFailedBy)}, in ${connectS.toFixed(0)} s; ${durationMs / 1000} s of load follow`);
    const gauge = await metric(g.gw.httpUrl, 'meterledger_mqtt_clients_connected').catch(() => NaN);

    // Meter k (over the whole fleet) publishes at (k + 0.5) / meters of the period: phases spread evenly.
    const startAt = Date.now() + 3000;
    const phaseOf = (k: number): number => ((k + 0.5) / meters) * periodMs;
    const cpu0 = cpuSeconds(pid);
    const m0 = machineTicks();
    const wall0 = performance.now();
    const sampler = sampleMemory(pid, g.gw.httpUrl, memorySampleMs);
    const results = await Promise.all(slices.map((p, s) => ask<FleetSliceResult>(p, {
      run: { startAt, durationMs, periodMs, drainMs, phasesMs: parts[s]!.map((_, i) => phaseOf(i * procs + s)) } satisfies FleetRun,
    }, 'result', durationMs + 3000 + drainMs + 120_000)));
    const cpuS = cpuSeconds(pid) - cpu0;
    const memory = sampler.stop();
    const rssGrowth = growthPerMinute(memory, 'rssBytes');
    const heapGrowth = growthPerMinute(memory, 'heapUsedBytes');
    // What the gateway got of the machine over the load and drain: on a loaded box, less than it asks for.
    const coreShare = cpuS / ((performance.now() - wall0) / 1000);
    const m1 = machineTicks();
    const mem = memoryOf(pid);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const load1 = loadavg();

    const sum = (f: (r: FleetSliceResult) => number): number => results.reduce((a, r) => a + f(r), 0);
    const sent = sum((r) => r.sent);
    const committed = sum((r) => r.committed);
    const lost = sum((r) => r.lost);
    const unacked = sum((r) => r.unacked);
    const dropped = sum((r) => r.dropped);
    const rejectedByCode: Record<string, number> = {};
    for (const r of results) for (const [c, n] of Object.entries(r.rejectedByCode)) rejectedByCode[c] = (rejectedByCode[c] ?? 0) + n;
    const refused = Object.values(rejectedByCode).reduce((a, n) => a + n, 0);
    const ack = summarize(results.flatMap((r) => r.ackMs));
    const receipt = summarize(results.flatMap((r) => r.receiptMs));
    const late = summarize(results.flatMap((r) => r.lateMs));
    const cpuUsPerReading = Math.round((cpuS / Math.max(1, committed)) * 1e6);
    const why = capped ? ` (capped from ${asked.toLocaleString('en')}: the gateway's open-file limit is ${limit.soft.toLocaleString('en')}, hard ${limit.hard.toLocaleString('en')}, less ${FD_HEADROOM} for its own files)` : '';

    const rows: Row[] = [
      ['meters connected, one MQTT connection each (mqtt.js, QoS 1 receipts subscribed)', `${connected.toLocaleString('en')} of ${meters.toLocaleString('en')}${why}; ${connectFailed} failed to connect, ${dropped} dropped`, `${GOAL_METERS.toLocaleString('en')}, all`, verdict(connected === meters && meters >= GOAL_METERS && dropped === 0)],
      [`publish -> PUBACK, one reading per meter every ${periodMs / 1000} s, ${Math.round((meters / periodMs) * 1000)}/s`, ms(ack), 'p99 <= 100 ms', verdict((ack.p99 ?? Infinity) <= 100)],
      ['publish -> committed receipt', ms(receipt), 'reported', '-'],
      [`readings refused (any code) / acknowledged without a receipt ${drainMs / 1000} s after the last publish (lost or late) / never acknowledged`, `${refused} / ${lost} / ${unacked} of ${sent.toLocaleString('en')} sent`, '0 / 0 / 0', verdict(sent > 0 && refused === 0 && lost === 0 && unacked === 0)],
      ['gateway peak resident memory (VmHWM)', `${mb(mem.peak)} (${mb(mem.now)} at the end) at ${connected.toLocaleString('en')} meters`, '<= 1.5 GB', verdict(mem.peak <= 1.5 * 2 ** 30)],
      [`gateway memory over the load and drain, sampled every ${memorySampleMs / 1000} s: RSS / V8 heap used, first -> middle -> last sample; growth over the second half`,
        memory.length < 2 ? 'too short to sample' : `${[memory[0]!, memory[Math.floor(memory.length / 2)]!, memory.at(-1)!].map((x) => `${mb(x.rssBytes)} / ${mb(x.heapUsedBytes)}`).join(' -> ')}; ${perMin(rssGrowth)} / ${perMin(heapGrowth)}`, 'reported', '-'],
      ['gateway CPU per committed reading (all threads, over the load and its drain)', `${cpuUsPerReading} µs; ${coreShare.toFixed(2)} of one core over the run`, 'reported', '-'],
      ['machine: load average (1 min) at start / end; busy share over the load', `${load0[0]!.toFixed(1)} / ${load1[0]!.toFixed(1)}; ${((m1.busy - m0.busy) / (m1.total - m0.total)).toFixed(2)}`, 'reported', '-'],
    ];
    return {
      name: 'fleet',
      rows,
      data: {
        metersAsked: asked, meters, capped, openFileLimit: limit, fdHeadroom: FD_HEADROOM, gatewayOpenFiles: fds, procs, connectPerS, durationMs, periodMs, drainMs,
        memorySampleMs, initAndStartSeconds: initS, connectSeconds: connectS, connected, connectFailed, connectFailedBy, dropped, clientsGauge: gauge,
        sent, acked: sum((r) => r.acked), committed, rejectedByCode, refused, lost, unacked,
        pubackMs: ack, receiptMs: receipt, publishLateMs: late, gatewayPeakRssBytes: mem.peak, gatewayRssEndBytes: mem.now,
        memorySamples: memory, rssGrowthMBPerMin: rssGrowth, heapGrowthMBPerMin: heapGrowth,
        gatewayCpuS: cpuS, gatewayCoreShare: coreShare, gatewayCpuUsPerReading: cpuUsPerReading, clientCpuS: sum((r) => r.clientCpuS),
        loadAverageStart: load0, loadAverageEnd: load1, machineBusy: (m1.busy - m0.busy) / (m1.total - m0.total),
      },
    };
  } finally {
    await Promise.all(slices.map((p) => ask(p, { close: true }, 'closed', 60_000).catch(() => p.kill('SIGKILL'))));
    await g.gw.stop().catch(() => null);
    g.cleanup();
  }
}
