/**
 * Single-gateway throughput: real MQTT meters (a separate process), QoS 1, closed loop,
 * every reading's committed receipt awaited; committed/s against the verify ceiling of
 * the same key type measured in the same run. The store left behind also gives the
 * storage figure (bytes on disk per committed reading against its signed size).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TxType, decodeBlock, decodeTx } from '../protocols/index.js';
import { LevelStore } from '../ledger-node/store/level.js';
import { dataPaths } from '../ledger-node/devchain.js';
import { type CeilingAlg, verifyCeiling } from './ceiling.js';
import { cpuSeconds, cpuSecondsByThread, machineTicks, metric, startBenchGateway } from './lib/gateway.js';
import { runLoadProcess } from './lib/load.js';
import type { LoadResult } from './lib/load-client.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const THROUGHPUT_METERS = Number(process.env.BENCH_METERS ?? 1000);
/** Readings awaiting their receipt at once: three blocks' worth at the default blockMaxTxs (2,000), so blocks fill. */
export const THROUGHPUT_WINDOW = Number(process.env.BENCH_WINDOW ?? 6000);

export interface ThroughputRun {
  readonly alg: CeilingAlg;
  readonly ceiling: number;
  readonly load: LoadResult;
  readonly ratio: number;
  /** Gateway CPU (all threads) per committed reading, µs, over the whole load. */
  readonly gatewayCpuUsPerReading: number;
  /** Busy share of the machine (all cores) over the load. */
  readonly machineBusy: number;
  readonly store?: StoreFigures;
  /** The gateway's own view over the whole run: mean accept latency, verify batch time, event loop. */
  readonly gatewayView?: Record<string, number | Record<string, number>>;
}

export interface StoreFigures {
  readonly readings: number;
  readonly blocks: number;
  readonly signedBytes: number;
  readonly diskBytes: number;
  readonly perReading: number;
  readonly ratioToSigned: number;
}

/** Bytes of every file under `dir`. */
export function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return n;
}

/** Count committed readings and their signed bytes in a stopped store, and its size on disk (store and write-ahead). */
export async function storeFigures(dataDir: string): Promise<StoreFigures> {
  const { store: path, wal } = dataPaths(dataDir);
  const store = await LevelStore.open(path);
  let readings = 0;
  let blocks = 0;
  let signedBytes = 0;
  try {
    for await (const { bytes: v } of store.blocks()) {
      blocks++;
      for (const t of decodeBlock(v).txs) {
        if (decodeTx(t, Infinity).body.type !== TxType.Reading) continue;
        readings++;
        signedBytes += t.length;
      }
    }
  } finally {
    await store.close();
  }
  const diskBytes = duBytes(path) + (existsSync(wal) ? duBytes(wal) : 0);
  return { readings, blocks, signedBytes, diskBytes, perReading: Math.round(diskBytes / Math.max(1, readings)), ratioToSigned: diskBytes / Math.max(1, signedBytes) };
}

/** Means from the gateway's histograms (seconds -> ms): where a reading's time goes inside it. */
export async function gatewayViewOf(httpUrl: string): Promise<Record<string, number>> {
  const P = 'meterledger_';
  const mean = async (h: string): Promise<number> => {
    const sum = await metric(httpUrl, `${P}${h}_sum`);
    const count = await metric(httpUrl, `${P}${h}_count`);
    return Math.round((sum / Math.max(1, count)) * 1e6) / 1e3;
  };
  return {
    acceptMeanMs: await mean('accept_latency_seconds'),
    commitMeanMs: await mean('commit_latency_seconds'),
    verifyBatchMeanMs: await mean('signature_verify_seconds'),
    blockIntervalMeanMs: await mean('block_interval_seconds'),
    consensusTimeouts: await metric(httpUrl, `${P}consensus_timeouts_total`),
    blockTxsMean: Math.round((await metric(httpUrl, `${P}block_transactions_sum`)) / Math.max(1, await metric(httpUrl, `${P}block_transactions_count`))),
  };
}

export async function throughputRun(o: {
  alg: CeilingAlg; durationMs: number; warmupMs?: number; inFlight?: number; budget: number; cpuProfDir?: string; ceiling?: number; withStore?: boolean; config?: Record<string, unknown>;
  /** Confidential meters: sealed readings, each meter's period key published first. */
  confidential?: boolean;
}): Promise<ThroughputRun> {
  const ceiling = o.ceiling ?? (await verifyCeiling(o.alg));
  const g = await startBenchGateway({
    meters: THROUGHPUT_METERS, alg: o.alg === 'P-256' ? 'ES256' : 'Ed25519',
    // No per-meter rate limit: the point is the gateway's capacity, not a meter's allowance.
    config: { ledger: { meterRatePerSecond: 0 }, ...o.config },
    ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}), ...(o.confidential ? { confidential: true } : {}),
  });
  try {
    // The CPU window opens when the generator is ready (every meter connected and subscribed,
    // confidential meters' period keys committed), so that it holds the load alone.
    let cpu0 = 0;
    let threads0: Record<string, number> = {};
    let m0 = machineTicks();
    const openWindow = async (): Promise<void> => {
      // Confidential meters' period keys are acknowledged: wait until they are committed too.
      for (let t = 0; o.confidential; t++) {
        if ((await g.gw.json<{ pending: number }>('/api/v1/status')).body.pending === 0) break;
        if (t >= 600) throw new Error('period keys not committed within 60 s');
        await sleep(100);
      }
      cpu0 = cpuSeconds(g.gw.proc!.pid!);
      threads0 = cpuSecondsByThread(g.gw.proc!.pid!);
      m0 = machineTicks();
    };
    const loadOptions = {
      meters: g.meterIds.map((id) => ({ id, dataDir: g.dir, mqttUrl: g.gw.mqttUrl })),
      mode: 'closed', inFlight: o.inFlight ?? THROUGHPUT_WINDOW, durationMs: o.durationMs, warmupMs: o.warmupMs ?? 4000, budget: o.budget, drainMs: 15_000,
    } as const;
    const load = await runLoadProcess(loadOptions, undefined, openWindow);
    const cpu = cpuSeconds(g.gw.proc!.pid!) - cpu0;
    const m1 = machineTicks();
    const threads1 = cpuSecondsByThread(g.gw.proc!.pid!);
    const perThread: Record<string, number> = {};
    for (const [k, v] of Object.entries(threads1)) {
      const us = Math.round(((v - (threads0[k] ?? 0)) / Math.max(1, load.committed)) * 1e6);
      if (us > 0) perThread[k === 'main' ? k : `thread ${k}`] = us;
    }
    const gatewayView = { ...(await gatewayViewOf(g.gw.httpUrl)), cpuUsPerReadingByThread: perThread };
    const code = await g.gw.stop(30_000);
    if (code !== 0) throw new Error(`gateway exit ${code}: ${g.gw.stderr.slice(-2000)}`);
    const store = o.withStore ? await storeFigures(g.dir) : undefined;
    return { alg: o.alg, ceiling, load, ratio: load.committedPerS / ceiling, gatewayCpuUsPerReading: Math.round((cpu / Math.max(1, load.committed)) * 1e6), machineBusy: Math.round(((m1.busy - m0.busy) / (m1.total - m0.total)) * 100) / 100, ...(store ? { store } : {}), gatewayView };
  } finally {
    await g.gw.stop().catch(() => null);
    g.cleanup();
  }
}
