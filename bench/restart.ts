/**
 * Restart with a big store: a million committed readings written straight into a fresh
 * data dir through the ledger-node store API (LevelStore.commitBlock, the call the chain
 * writer makes), every reading really signed by its meter key (in one worker per core)
 * and every block carrying the validator's precommit, so the store is what a gateway
 * would have written itself. Then `meterledger start` is timed until /readyz answers.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  Alg, type Genesis, StateKind, TxType, VoteType, encodeBlock, encodeCommit, headerHash, makeHeader, parseGenesis, voteSignBytes,
} from '../protocols/index.js';
import { dataPaths } from '../ledger-node/devchain.js';
import { loadKeyFile } from '../ledger-node/keyfile.js';
import { nativeSign } from '../ledger-node/crypto/native.js';
import { type MeterRecord, genesisMeters, takeSeq } from '../ledger-node/state/meter.js';
import { LevelStore } from '../ledger-node/store/level.js';
import { genesisHash, seqWindowOf, sha256 } from '../protocols/index.js';
import { signReading } from '../gateway/cli/sign.js';
import { readFileSync } from 'node:fs';

interface Job { dataDir: string; chainId: string; meterIds: string[]; blockTxs: number; heights: number[]; time: number }

/** Worker: sign the readings of the given heights; reading n of height h is meter n % M, seq (h-1)*per + floor(n/M) + 1. */
if (!isMainThread && workerData?.restartJob) {
  const j = workerData.restartJob as Job;
  const keys = j.meterIds.map((id) => loadKeyFile(dataPaths(j.dataDir).meterKey(id)));
  const perMeter = j.blockTxs / j.meterIds.length;
  for (const h of j.heights) {
    const txs: Uint8Array[] = [];
    for (let n = 0; n < j.blockTxs; n++) {
      const m = n % j.meterIds.length;
      const seq = BigInt((h - 1) * perMeter + Math.floor(n / j.meterIds.length) + 1);
      txs.push(signReading(j.chainId, keys[m]!, { type: TxType.Reading, meterId: j.meterIds[m]!, seq, time: j.time + h, importWh: Number(seq) }));
    }
    parentPort!.postMessage({ h, txs });
  }
  parentPort!.postMessage({ done: true });
}

/** Fill `dataDir` (a fresh dev chain) with `blocks` blocks of `blockTxs` readings. */
export async function buildStore(dataDir: string, blocks: number, blockTxs: number): Promise<{ readings: number; seconds: number }> {
  const t0 = performance.now();
  const genesis: Genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dataDir).genesis, 'utf8')));
  const meterIds = genesis.meters.map((m) => m.id);
  if (blockTxs % meterIds.length !== 0) throw new Error('blockTxs must be a multiple of the meter count');
  const validator = loadKeyFile(dataPaths(dataDir).validatorKey);
  const vid = genesis.validators[0]!.id;
  const store = await LevelStore.open(dataPaths(dataDir).store);
  const records = genesisMeters(genesis);
  const meters = new Map(records.map((r) => [r.id, r.value as MeterRecord]));
  try {
    await store.setGenesisHash(genesisHash(genesis));
    await store.saveState(records);
    const ready = new Map<number, Uint8Array[]>();
    let wake: (() => void) | undefined;
    const workers = availableParallelism();
    const all = Array.from({ length: blocks }, (_, i) => i + 1);
    const time = Date.now() - blocks * 1000;
    const ws = Array.from({ length: workers }, (_, w) => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { restartJob: { dataDir, chainId: genesis.chainId, meterIds, blockTxs, heights: all.filter((h) => h % workers === w), time } },
      });
      worker.on('message', (m: { h?: number; txs?: Uint8Array[] }) => {
        if (m.h !== undefined) {
          ready.set(m.h, m.txs!);
          wake?.();
        }
      });
      return worker;
    });
    let prev = genesisHash(genesis);
    let prevTime = 0;
    for (let h = 1; h <= blocks; h++) {
      while (!ready.has(h)) await new Promise<void>((r) => (wake = r));
      const txs = ready.get(h)!;
      ready.delete(h);
      const header = makeHeader({ chainId: genesis.chainId, height: h, time: Math.max(prevTime, time + h * 1000), prevHash: prev, proposer: vid }, txs);
      const hash = headerHash(header);
      const signature = nativeSign(Alg.EdDSA, validator.privateKey, voteSignBytes(genesis.chainId, VoteType.Precommit, h, 0, hash));
      const perMeter = blockTxs / meterIds.length;
      // Each meter's record as the reading rule leaves it: lastSeq and its anti-replay window
      // (`seen`), else `meterledger verify` finds the stored record differs from the chain.
      for (const id of meterIds) {
        let rec = meters.get(id)!;
        for (let seq = (h - 1) * perMeter + 1; seq <= h * perMeter; seq++) rec = { ...rec, ...takeSeq(rec, BigInt(seq), seqWindowOf(genesis)) };
        meters.set(id, rec);
      }
      const changes = meterIds.map((id) => ({ kind: StateKind.Meter, id, value: meters.get(id)! }));
      await store.commitBlock({
        height: h, hash, blockBytes: encodeBlock({ header, txs }), commitBytes: encodeCommit({ height: h, round: 0, blockHash: hash, signatures: [{ validator: vid, signature }] }),
        readings: txs.map((_, index) => {
          const seq = BigInt((h - 1) * perMeter + Math.floor(index / meterIds.length) + 1);
          return { meterId: meterIds[index % meterIds.length]!, seq, height: h, index, time: time + h, importWh: Number(seq) }; // as the worker signed them
        }),
        txs: txs.map((bytes) => ({ hash: sha256(bytes), subjects: [] })), // readings: no subjects
        changes,
      });
      prev = hash;
      prevTime = header.time;
    }
    await Promise.all(ws.map((w) => w.terminate()));
  } finally {
    await store.close();
  }
  return { readings: blocks * blockTxs, seconds: (performance.now() - t0) / 1000 };
}
