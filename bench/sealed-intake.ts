/**
 * Issue 14 in-process (docs/performance.md): the intake's CPU per committed reading with
 * every meter confidential against clear meters, without the load generator, MQTT or a
 * disk (a LedgerNode on the memory store, 2 verify workers, readings handed to
 * `intake.submit` as from MQTT, a window of 2,000 in flight). The figures are the main
 * thread's CPU (/proc/self/task/<pid>/stat) and the whole process's (workers and GC
 * threads too) per committed reading, clear and sealed in alternating pairs
 * (BENCH_INTAKE_PAIRS, default 3; who goes first alternates); the row is the median of
 * the pairs' ratios, after an unmeasured warm-up of each. The readings and period keys are
 * signed before each measured window.
 *
 *   npm run build && npm run bench -- sealed-intake     (BENCH_INTAKE_METERS, BENCH_INTAKE_PER_METER)
 */
import { readFileSync } from 'node:fs';
import { TxType } from '../protocols/index.js';
import { LedgerNode } from '../ledger-node/node.js';
import { signReading } from '../gateway/cli/sign.js';
import { SealingMeter } from '../gateway/sim/sealing.js';
import { makeTestChain } from '../test/helpers/devchain.js';
import { inMemory } from '../test/helpers/memory-store.js';
import { type BenchResult, verdict } from './lib/env.js';
import { median } from '../gateway/sim/stats.js';

const METERS = Number(process.env.BENCH_INTAKE_METERS ?? 100);
const PER_METER = Number(process.env.BENCH_INTAKE_PER_METER ?? 150);
const WINDOW = 2000;

interface IntakeRun {
  readonly sealed: boolean;
  readonly readings: number;
  readonly mainUs: number;
  readonly processUs: number;
  readonly wallS: number;
}

/** CPU seconds of this process's main thread (utime + stime, in clock ticks of 10 ms). */
function mainThreadSeconds(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function intakeRun(sealed: boolean, perMeter = PER_METER): Promise<IntakeRun> {
  const chain = makeTestChain({ meters: METERS, confidential: sealed });
  const node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 200, verifyWorkers: 2 });
  try {
    const settled = async (): Promise<void> => {
      while (node.status().pending > 0) await new Promise((r) => setTimeout(r, 20));
    };
    const now = Date.now();
    const recipients = SealingMeter.recipientsIn(chain.genesis);
    const sealers = sealed ? chain.meterIds.map((id) => new SealingMeter(chain.genesis, id, chain.meterKeys.get(id)!, recipients.get(id)!)) : [];
    const keys = await Promise.all(sealers.map((s, k) => node.intake.submit(s.periodKeyFor(now)!, { meterId: chain.meterIds[k]!, transport: 'mqtt' })));
    if (keys.some((r) => r.status !== 'accepted')) throw new Error('a period key was refused');
    await settled();
    const items: { meterId: string; bytes: Buffer }[] = [];
    for (let n = 0; n < METERS * perMeter; n++) {
      const k = n % METERS;
      const meterId = chain.meterIds[k]!;
      const reading = { type: TxType.Reading, meterId, seq: BigInt(1 + Math.floor(n / METERS)), time: now, importWh: n } as const;
      items.push({ meterId, bytes: Buffer.from(sealed ? sealers[k]!.seal(reading) : signReading(chain.genesis.chainId, chain.meterKeys.get(meterId)!, reading)) });
    }
    const m0 = mainThreadSeconds();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    let next = 0;
    let refused = 0;
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (next < items.length) {
        const it = items[next++]!;
        if ((await node.intake.submit(it.bytes, { meterId: it.meterId, transport: 'mqtt' })).status !== 'accepted') refused++;
      }
    }));
    await settled();
    const c = process.cpuUsage(c0);
    const n = items.length;
    if (refused > 0) throw new Error(`${refused} of ${n} readings refused`);
    return {
      sealed, readings: n, mainUs: Math.round(((mainThreadSeconds() - m0) / n) * 1e6), processUs: Math.round((c.user + c.system) / n),
      wallS: Math.round(performance.now() - w0) / 1000,
    };
  } finally {
    await node.close();
    chain.cleanup();
  }
}

export async function sealedIntakeBench(): Promise<BenchResult> {
  const pairs = Number(process.env.BENCH_INTAKE_PAIRS ?? 3);
  const runs: IntakeRun[] = [];
  // Warm-up, not counted: the code of both paths compiled before the first measured run.
  for (const sealed of [false, true]) await intakeRun(sealed, Math.max(1, Math.ceil(PER_METER / 10)));
  for (let i = 0; i < pairs; i++) {
    for (const sealed of i % 2 === 0 ? [false, true] : [true, false]) {
      const r = await intakeRun(sealed);
      runs.push(r);
      console.log(`  ${sealed ? 'sealed' : 'clear '}: main thread ${r.mainUs} µs, process ${r.processUs} µs per committed reading (${r.readings} in ${r.wallS} s)`);
    }
  }
  const of = (sealed: boolean): IntakeRun[] => runs.filter((r) => r.sealed === sealed);
  const pairsOf = (f: 'mainUs' | 'processUs'): { x: number; pairs: number[] } => {
    const ratios = of(true).map((s, k) => s[f] / Math.max(1, of(false)[k]![f])).sort((a, b) => a - b);
    return { x: median(ratios), pairs: ratios };
  };
  const main = pairsOf('mainUs');
  const proc = pairsOf('processUs');
  const us = (sealed: boolean, f: 'mainUs' | 'processUs'): string => of(sealed).map((r) => r[f]).join(', ');
  const fmt = (m: { x: number; pairs: number[] }): string => `x${m.x.toFixed(2)} (median of ${m.pairs.length} pairs: ${m.pairs.map((r) => r.toFixed(2)).join(', ')})`;
  return {
    name: 'sealed-intake',
    rows: [
      ['intake main thread CPU per committed reading, sealed vs clear', `${us(true, 'mainUs')} vs ${us(false, 'mainUs')} µs; ${fmt(main)}`, 'reported', '-'],
      ['intake process CPU per committed reading (workers, GC), sealed vs clear', `${us(true, 'processUs')} vs ${us(false, 'processUs')} µs; ${fmt(proc)}`, '<= 1.10x (issue 14, in-process)', verdict(proc.x <= 1.1)],
    ],
    data: { meters: METERS, perMeter: PER_METER, window: WINDOW, runs, mainRatio: main, processRatio: proc },
  };
}
