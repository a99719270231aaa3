/**
 * `npm run bench -- billing` (issue 12): a month of bills issued, validated and committed
 * over a store holding 1,000 meters' month of quarter-hour readings (BENCH_BILL_METERS for
 * fewer; BENCH_BILL_VALIDATORS, default 4).
 *
 * The store is built in bulk, not over MQTT: a dev billing chain (initDevChain with billing,
 * its genesis moved back to 2025-12-31 and without a short cycle, so periods are calendar
 * months), then blocks written straight through LevelStore.commitBlock: first the set-up
 * (accounts, the time-of-use tariff of bench/bill-engine.ts, one agreement per meter from
 * 1 March 2026), checked by checkTxs like any block; then one block per quarter hour from
 * 28 Feb 22:45Z to 1 Apr 00:15Z, one reading of every meter each, as many quarter hours a
 * block as genesis maxBlockTxs allows (10 for 1,000 meters); each reading signed by its
 * meter key in worker threads (one per core), its index entries and meter records written
 * as the chain writer writes them.
 *
 * Then the measured part, in this process: the biller computes and signs every meter's
 * March bill (what autoIssue does), the bills go into blocks of genesis maxBlockTxs, and
 * each block is checked by every validator with the validation path of consensus
 * (blocks/validate.ts checkTxs: its own CommittedReadings loading the meters' readings
 * from the store, every bill recomputed and compared, signatures on the verify pool),
 * then committed (LedgerStore.commitBlock). The validators run one after another on this
 * machine, so the wall time is an upper bound: on separate machines they run at once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  Alg, type BillPeriod, type Genesis, LedgerTxType, type Reading, type StateChange, StateKind, TxType, VoteType, billId, computeBill, encodeBlock, encodeCommit,
  genesisHash, headerHash, ledgerChain, makeHeader, parseGenesis, readingWindow, readingsForBill, resolvePeriod, seqWindowOf, termsTimeline, sha256, signTx, txSubjects, voteSignBytes,
} from '../protocols/index.js';
import { nativeSign } from '../ledger-node/crypto/native.js';
import { SignatureVerifier } from '../ledger-node/crypto/verifier.js';
import { checkTxs } from '../ledger-node/blocks/validate.js';
import { readDevBillingPlan } from '../ledger-node/billing/dev-setup.js';
import { dataPaths, initDevChain } from '../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../ledger-node/keyfile.js';
import type { TxContext } from '../ledger-node/signatures.js';
import { ChainState } from '../ledger-node/state/layers.js';
import { CommittedReadings } from '../ledger-node/state/ledger.js';
import { type MeterRecord, genesisMeters, operatorsOf, takeSeq } from '../ledger-node/state/meter.js';
import { LevelStore } from '../ledger-node/store/level.js';
import { signReading } from '../gateway/cli/sign.js';
import { benchTariff } from './bill-engine.js';
import { type BenchResult, verdict } from './lib/env.js';

const GENESIS_TIME = '2025-12-31T00:00:00Z';
/** The set-up block's time: before the tariff's effectiveFrom (2026-01-01T00:00+01:00). */
const SETUP_TIME = Date.parse('2025-12-31T12:00:00Z');
/** Agreements from 1 March 2026 local time: the first period billed is March. */
const AGREEMENT_FROM = Date.parse('2026-03-01T00:00:00+01:00');
const FIRST_READING = Date.parse('2026-02-28T22:45:00Z');
const LAST_READING = Date.parse('2026-04-01T00:15:00Z');
const QUARTER = 900_000;
const STEPS = (LAST_READING - FIRST_READING) / QUARTER + 1;
/** A reading's time is up to 9 s after its quarter hour; its block comes 10 s after the quarter hour. */
const blockTimeOf = (step: number): number => FIRST_READING + step * QUARTER + 10_000;

/** Reading `step` of meter k: registers grow by a day-shaped profile, a little solar export (deterministic). */
function advance(k: number, step: number, reg: { imp: number; exp: number }): { time: number; imp: number; exp: number } {
  const t = FIRST_READING + step * QUARTER;
  const h = new Date(t).getUTCHours();
  reg.imp += (h < 6 ? 40 : h < 17 ? 110 : h < 21 ? 260 : 90) + ((step * 37 + k * 11) % 29);
  if (h >= 9 && h < 16) reg.exp += (step + k) % 23;
  return { time: t + ((step * 7_919 + k * 104_729) % 9_000), imp: reg.imp, exp: reg.exp };
}
const startRegisters = (k: number): { imp: number; exp: number } => ({ imp: 1_000_000 + k * 7_919, exp: 50_000 + k * 31 });

interface Job { dataDir: string; chainId: string; meterIds: string[]; steps: number[] }
interface Signed { step: number; txs: Uint8Array[]; time: number[]; imp: number[]; exp: number[] }

/** Worker: sign reading `step` of every meter for the steps given (ascending). */
if (!isMainThread && workerData?.billingJob) {
  const j = workerData.billingJob as Job;
  const keys = j.meterIds.map((id) => loadKeyFile(dataPaths(j.dataDir).meterKey(id)));
  const regs = j.meterIds.map((_, k) => startRegisters(k));
  const mine = new Set(j.steps);
  for (let step = 0; step < STEPS; step++) {
    const out: Signed = { step, txs: [], time: [], imp: [], exp: [] };
    for (let k = 0; k < j.meterIds.length; k++) {
      const r = advance(k, step, regs[k]!);
      if (!mine.has(step)) continue;
      out.txs.push(signReading(j.chainId, keys[k]!, { type: TxType.Reading, meterId: j.meterIds[k]!, seq: BigInt(step + 1), time: r.time, importWh: r.imp, exportWh: r.exp }));
      out.time.push(r.time);
      out.imp.push(r.imp);
      out.exp.push(r.exp);
    }
    if (mine.has(step)) parentPort!.postMessage(out);
  }
  parentPort!.postMessage({ done: true });
}

/** One validator: its own reading cache over the store, the context consensus gives checkTxs. */
function validatorContext(genesis: Genesis, store: LevelStore, verifier: SignatureVerifier): TxContext {
  const bills = new CommittedReadings(store);
  return {
    chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis),
    operators: operatorsOf(genesis), verifier, bills, ledger: ledgerChain(genesis, bills, undefined, bills.sealed),
  };
}

export interface BillingBenchOptions {
  readonly meters?: number;
  readonly validators?: number;
  /** Keep the data dir (a test runs `meterledger verify` on it); the caller removes it. */
  readonly dataDir?: string;
  readonly log?: (line: string) => void;
}

export interface BillingBenchFigures {
  meters: number; validators: number; readings: number; readingBlocks: number; buildSeconds: number;
  bills: number; billBlocks: number; issueSeconds: number; issueCpuUsPerBill: number;
  validateCpuUsPerBill: number[]; commitSeconds: number; totalSeconds: number; billsCommittedPerS: number;
  criticalPathSeconds: number; loadAverage: number[]; cores: number; height: number; totalBilled: string;
}

const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

export async function runBillingBench(opts: BillingBenchOptions = {}): Promise<BillingBenchFigures> {
  const N = opts.meters ?? Number(process.env.BENCH_BILL_METERS ?? 1000);
  const V = opts.validators ?? Number(process.env.BENCH_BILL_VALIDATORS ?? 4);
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ml-bench-billing-'));
  const verifier = new SignatureVerifier(availableParallelism());
  let store: LevelStore | undefined;
  try {
    const t0 = performance.now();
    initDevChain(dir, { meters: N, meterAlg: 'Ed25519', billing: { cycleMs: 60_000 } });
    // Calendar months, and a genesis before the month's blocks.
    const raw = JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')) as Record<string, unknown>;
    delete raw.billingCycle;
    raw.genesisTime = GENESIS_TIME;
    writeFileSync(dataPaths(dir).genesis, JSON.stringify(raw, null, 2) + '\n');
    const genesis = parseGenesis(raw);
    const plan = readDevBillingPlan(dir)!;
    const op = loadKeyFile(join(dir, plan.operatorKey));
    const validatorKey = loadKeyFile(dataPaths(dir).validatorKey);
    const vid = genesis.validators[0]!.id;
    const meterIds = genesis.meters.map((m) => m.id);
    const state = new ChainState(genesisMeters(genesis));
    store = await LevelStore.open(dataPaths(dir).store);
    await store.setGenesisHash(genesisHash(genesis));
    await store.saveState(genesisMeters(genesis));
    const head = { height: 0, hash: genesisHash(genesis), time: 0 };
    const st = store;

    const writeBlock = async (time: number, txs: Uint8Array[], changes: StateChange[], readings: Parameters<LevelStore['commitBlock']>[0]['readings'], subjects: string[][]): Promise<void> => {
      const height = head.height + 1;
      const header = makeHeader({ chainId: genesis.chainId, height, time: Math.max(head.time, time), prevHash: head.hash, proposer: vid }, txs);
      const hash = headerHash(header);
      const signature = nativeSign(Alg.EdDSA, validatorKey.privateKey, voteSignBytes(genesis.chainId, VoteType.Precommit, height, 0, hash));
      await st.commitBlock({
        height, hash, blockBytes: encodeBlock({ header, txs }), commitBytes: encodeCommit({ height, round: 0, blockHash: hash, signatures: [{ validator: vid, signature }] }),
        readings, txs: txs.map((bytes, i) => ({ hash: sha256(bytes), subjects: subjects[i]! })), changes,
      });
      state.commit(changes);
      Object.assign(head, { height, hash, time: header.time });
    };
    /** Ledger transactions in blocks of maxBlockTxs, each checked by `ctxs` in turn (timed) and committed. */
    const commitLedgerTxs = async (ctxs: TxContext[], all: Uint8Array[], time: number, cpu?: number[]): Promise<number> => {
      let blocks = 0;
      for (let i = 0; i < all.length; i += genesis.params.maxBlockTxs) {
        const txs = all.slice(i, i + genesis.params.maxBlockTxs);
        const at = { height: head.height + 1, time: Math.max(head.time, time) };
        let checked: Awaited<ReturnType<typeof checkTxs>> | undefined;
        for (const [v, ctx] of ctxs.entries()) {
          const c0 = cpuUs();
          checked = await checkTxs(ctx, state.committed, txs, at);
          if (cpu) cpu[v] = (cpu[v] ?? 0) + (cpuUs() - c0);
          ctx.bills?.keepOnly(new Set());
        }
        await writeBlock(at.time, txs, checked!.changes, [], checked!.decoded.map((t) => txSubjects(t.body)));
        blocks++;
      }
      return blocks;
    };

    // 1. set-up: accounts, tariff, agreements (checked like any block).
    let t = SETUP_TIME;
    const keyOf = (file: string): KeyPair => loadKeyFile(join(dir, file));
    const setup: Uint8Array[] = [];
    const send = (body: Parameters<typeof signTx>[3]): void => void setup.push(signTx(genesis.chainId, op.alg, op.secretKey, body, plan.operator));
    for (const account of [plan.payee, ...plan.meters.map((m) => m.account)]) {
      const k = keyOf(plan.accountKeys[account]!);
      send({ type: LedgerTxType.AccountOpen, time: ++t, account, alg: k.alg, publicKey: k.publicKey });
    }
    const tariff = benchTariff();
    send({ type: LedgerTxType.TariffPublish, time: ++t, tariff });
    for (const id of meterIds) send({ type: LedgerTxType.Agreement, time: ++t, meterId: id, from: AGREEMENT_FROM, tariff: tariff.tariff });
    await commitLedgerTxs([validatorContext(genesis, store, verifier)], setup, t + 1000);

    // 2. the month's readings: one block per quarter hour, signed in workers.
    const workers = availableParallelism();
    const ready = new Map<number, Signed>();
    let wake: (() => void) | undefined;
    const ws = Array.from({ length: workers }, (_, w) => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { billingJob: { dataDir: dir, chainId: genesis.chainId, meterIds, steps: Array.from({ length: STEPS }, (_, s) => s).filter((s) => s % workers === w) } satisfies Job },
      });
      worker.on('message', (m: Signed | { done: true }) => {
        if ('step' in m) {
          ready.set(m.step, m);
          wake?.();
        }
      });
      worker.on('error', (e) => {
        throw e;
      });
      return worker;
    });
    const meters = new Map(meterIds.map((id) => [id, state.meter(id) as MeterRecord]));
    // Several quarter hours a block, as many as genesis maxBlockTxs allows (a block at most a day).
    const perBlock = Math.max(1, Math.min(96, Math.floor(genesis.params.maxBlockTxs / N)));
    let readingBlocks = 0;
    for (let first = 0; first < STEPS; first += perBlock) {
      const height = head.height + 1;
      const txs: Uint8Array[] = [];
      const readings: Parameters<LevelStore['commitBlock']>[0]['readings'][number][] = [];
      const subjects: string[][] = [];
      const last = Math.min(STEPS, first + perBlock) - 1;
      for (let step = first; step <= last; step++) {
        while (!ready.has(step)) await new Promise<void>((r) => (wake = r));
        const s = ready.get(step)!;
        ready.delete(step);
        const seq = BigInt(step + 1);
        meterIds.forEach((meterId, k) => {
          const r = { meterId, seq, time: s.time[k]!, importWh: s.imp[k]!, exportWh: s.exp[k]! };
          readings.push({ ...r, height, index: txs.length });
          subjects.push(txSubjects({ type: TxType.Reading, ...r } satisfies Reading));
          txs.push(s.txs[k]!);
        });
      }
      // Each meter's record as the reading rule leaves it (lastSeq and its anti-replay window).
      for (const id of meterIds) {
        let rec = meters.get(id)!;
        for (let step = first; step <= last; step++) rec = { ...rec, ...takeSeq(rec, BigInt(step + 1), seqWindowOf(genesis)) };
        meters.set(id, rec);
      }
      const changes = meterIds.map((id) => ({ kind: StateKind.Meter, id, value: meters.get(id)! }));
      await writeBlock(blockTimeOf(last), txs, changes, readings, subjects);
      readingBlocks++;
      if (readingBlocks % 100 === 0) log(`  readings: ${(last + 1) * N} of ${STEPS * N} stored`);
    }
    await Promise.all(ws.map((w) => w.terminate()));
    const buildSeconds = (performance.now() - t0) / 1000;
    log(`  store built: ${N * STEPS} readings in ${readingBlocks} blocks + set-up in ${buildSeconds.toFixed(1)} s`);

    // 3. measured: issue (biller), validate (each validator), commit.
    const billTime = Date.now();
    const T0 = performance.now();
    const issuer = new CommittedReadings(store);
    const chain = ledgerChain(genesis, issuer);
    const period: BillPeriod = resolvePeriod('2026-03', termsTimeline([{ from: AGREEMENT_FROM, tariff: tariff.tariff }], [tariff]));
    const c0 = cpuUs();
    const bills: Uint8Array[] = [];
    let totalBilled = 0n;
    for (const meterId of meterIds) {
      const release = await issuer.prepareMeters(new Set([meterId]));
      try {
        const readings = readingsForBill(chain.readings, meterId, period, head.height);
        const bill = computeBill({ meterId, period: period.label, currency: genesis.currency!, agreements: [{ from: AGREEMENT_FROM, tariff: tariff.tariff }], tariffs: [tariff], readings });
        totalBilled += BigInt(bill.total);
        bills.push(signTx(genesis.chainId, op.alg, op.secretKey, { type: LedgerTxType.Bill, time: billTime, payee: plan.payee, height: head.height, bill }, plan.operator));
      } finally {
        release();
        issuer.keepOnly(new Set());
      }
    }
    const issueCpu = cpuUs() - c0;
    const issueSeconds = (performance.now() - T0) / 1000;
    const cpu: number[] = [];
    const ctxs = Array.from({ length: V }, () => validatorContext(genesis, st, verifier));
    const T1 = performance.now();
    const billBlocks = await commitLedgerTxs(ctxs, bills, billTime, cpu);
    const totalSeconds = (performance.now() - T0) / 1000;
    const commitSeconds = (performance.now() - T1) / 1000;
    const committed = meterIds.filter((id) => state.committed.get(StateKind.Bill, billId(id, '2026-03')) !== undefined).length;
    if (committed !== N) throw new Error(`${committed} of ${N} bills committed`);
    const validateCpuUsPerBill = cpu.map((c) => Math.round(c / N));
    const slowest = Math.max(...cpu) / 1e6;
    return {
      meters: N, validators: V, readings: N * STEPS, readingBlocks, buildSeconds, bills: N, billBlocks, issueSeconds,
      issueCpuUsPerBill: Math.round(issueCpu / N), validateCpuUsPerBill, commitSeconds, totalSeconds,
      billsCommittedPerS: Math.round(N / totalSeconds),
      // On separate machines: the issuer, then the validators at once (the slowest), then the store write.
      criticalPathSeconds: issueSeconds + slowest + Math.max(0, commitSeconds - cpu.reduce((a, b) => a + b, 0) / 1e6),
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100), cores: availableParallelism(), height: head.height, totalBilled: totalBilled.toString(),
    };
  } finally {
    await store?.close();
    await verifier.close();
    if (!opts.dataDir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

export async function billingBench(): Promise<BenchResult> {
  const f = await runBillingBench();
  const us = (x: number): string => `${x} µs`;
  return {
    name: 'billing',
    rows: [
      [`store: ${f.meters} meters x ${f.readings / f.meters} quarter-hour readings (March 2026, ToU tariff), built in bulk through LevelStore.commitBlock, not over MQTT`, `${f.readings} readings, ${f.readingBlocks} blocks, ${f.buildSeconds.toFixed(1)} s`, 'reported', '-'],
      [`${f.bills} March bills issued (biller: compute + sign)`, `${f.issueSeconds.toFixed(2)} s, ${us(f.issueCpuUsPerBill)} CPU per bill`, 'reported', '-'],
      ['each validator\'s validation cost per bill (checkTxs: load readings, recompute, compare, signature)', f.validateCpuUsPerBill.map(us).join(' / '), 'reported', '-'],
      [`bills committed per second (issue, ${f.validators} validations in turn, commit; ${f.billBlocks} blocks)`, `${f.billsCommittedPerS}/s`, 'reported', '-'],
      [`the whole month's bills committed (load average ${f.loadAverage.join(' ')})`, `${f.totalSeconds.toFixed(1)} s (validators on their own machines: ~${f.criticalPathSeconds.toFixed(1)} s)`, '< 60 s', verdict(f.totalSeconds < 60)],
    ],
    data: { ...f, how: 'store built in bulk: set-up block checked by checkTxs, reading blocks written with LevelStore.commitBlock, readings signed by their meter keys in worker threads; bills validated in-process by each validator\'s checkTxs in turn' },
  };
}
