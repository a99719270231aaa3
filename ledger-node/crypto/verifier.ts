/**
 * Signature verification for the hot path: requests are gathered for one turn of the
 * event loop and handed to a pool of worker threads in batches (a message per batch, not
 * per signature, since a postMessage costs about as much as an Ed25519 verify).
 * With 0 workers it verifies on the calling thread (tests, tiny boxes).
 *
 * `checkReading` hands a device's transaction bytes over whole (./tx-worker.ts): the
 * worker decodes them (the canonical check included) and, for a reading, clear or sealed,
 * checks the signature with the key given; the answers come back in the order asked, so the intake applies its state
 * rules in accept order.
 */
import { Piscina } from 'piscina';
import type { Alg, Reading, SealedReading, SignedTx } from '../../protocols/index.js';
import type { NodeMetrics } from '../metrics.js';
import { noopMetrics } from '../metrics.js';
import verifyBatch, { type VerifyBatch } from './verify-worker.js';
import { type TxBatch, type TxBatchResult, TxCheck, checkTxBatch, coseSpans, sealedSpans } from './tx-worker.js';

interface Item {
  alg: Alg;
  key: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
  done: (ok: boolean) => void;
}

/** What the worker made of a device's bytes. */
export interface ReadingCheck {
  /** The reading (clear or sealed), rebuilt over the caller's own bytes; undefined: decode it yourself (refused, or not a reading). */
  readonly tx?: SignedTx<Reading | SealedReading>;
  /** Whether its signature verifies with the key asked for; undefined when no key was given. */
  readonly signatureOk?: boolean;
}

interface TxItem {
  bytes: Uint8Array;
  alg: Alg | undefined;
  key: Uint8Array | undefined;
  done: (r: ReadingCheck) => void;
}

const MAX_BATCH = 256;

export class SignatureVerifier {
  private queue: Item[] = [];
  private txQueue: TxItem[] = [];
  private scheduled = false;
  private txScheduled = false;
  /** The answers of the last transaction batch handed out: each batch answers after the one before it. */
  private txTail: Promise<unknown> = Promise.resolve();
  private readonly pool: Piscina<VerifyBatch | TxBatch, Uint8Array | TxBatchResult> | undefined;

  constructor(
    private readonly workers: number,
    private readonly metrics: NodeMetrics = noopMetrics,
  ) {
    this.pool = workers > 0
      ? new Piscina({ filename: new URL('./verify-entry.cjs', import.meta.url).href, minThreads: workers, maxThreads: workers, idleTimeout: 60_000 })
      : undefined;
  }

  verify(alg: Alg, key: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
    return new Promise((done) => {
      this.queue.push({ alg, key, msg, sig, done });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Decode `bytes` (decodeAnyTx with `maxTxBytes`) and, when it is a reading (clear or
   * sealed) and a key is given, check its signature over chain `chainId` with that key. Answers resolve
   * in the order of the calls.
   */
  checkReading(bytes: Uint8Array, chainId: string, maxTxBytes: number, alg?: Alg, key?: Uint8Array): Promise<ReadingCheck> {
    return new Promise((done) => {
      this.txQueue.push({ bytes, alg, key, done });
      if (!this.txScheduled) {
        this.txScheduled = true;
        setImmediate(() => this.flushTx(chainId, maxTxBytes));
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    for (const part of spread(items, this.workers)) void this.run(part);
  }

  private async run(items: Item[]): Promise<void> {
    const batch: VerifyBatch = { algs: [], keys: [], msgs: [], sigs: [] };
    for (const it of items) {
      batch.algs.push(it.alg);
      batch.keys.push(it.key);
      batch.msgs.push(it.msg);
      batch.sigs.push(it.sig);
    }
    const t0 = performance.now();
    let res: Uint8Array;
    try {
      res = this.pool ? ((await this.pool.run(batch)) as Uint8Array) : verifyBatch(batch);
    } catch {
      res = verifyBatch(batch); // a worker died: verify here rather than lose the answer
    }
    this.metrics.signaturesVerified(items.length, (performance.now() - t0) / 1000);
    items.forEach((it, i) => it.done(res[i] === 1));
  }

  private flushTx(chainId: string, maxTxBytes: number): void {
    this.txScheduled = false;
    const items = this.txQueue;
    this.txQueue = [];
    for (const part of spread(items, this.workers)) {
      const answer = this.runTx(part, chainId, maxTxBytes);
      // In order: a batch's answers are given only after the one before it has given its own.
      const given = Promise.all([answer, this.txTail]).then(([res]) => deliver(part, res));
      this.txTail = given;
    }
  }

  private async runTx(items: TxItem[], chainId: string, maxTxBytes: number): Promise<TxBatchResult> {
    let size = 0;
    for (const it of items) size += it.bytes.length + (it.key?.length ?? 0);
    const data = new ArrayBuffer(size);
    const bytes = new Uint8Array(data);
    const spans = new Uint32Array(items.length * 4);
    const algs = new Int8Array(items.length);
    let at = 0;
    items.forEach((it, i) => {
      bytes.set(it.bytes, at);
      spans[4 * i] = at;
      spans[4 * i + 1] = it.bytes.length;
      at += it.bytes.length;
      if (it.key && it.alg !== undefined) {
        bytes.set(it.key, at);
        spans[4 * i + 2] = at;
        spans[4 * i + 3] = it.key.length;
        algs[i] = it.alg;
        at += it.key.length;
      }
    });
    const batch: TxBatch = { kind: 'tx', chainId, maxTxBytes, data, spans, algs };
    const t0 = performance.now();
    let res: TxBatchResult;
    try {
      res = this.pool ? ((await this.pool.run(batch, { transferList: [data] })) as TxBatchResult) : checkTxBatch(batch);
    } catch {
      // A worker died: every item is decoded on the calling thread, as without workers.
      res = { status: new Uint8Array(items.length), bodies: [], sealedAt: new Uint32Array(0), algs: new Int8Array(0), lens: new Uint32Array(0), hashes: new Uint8Array(0), hashHex: [], verified: 0 };
    }
    if (res.verified > 0) this.metrics.signaturesVerified(res.verified, (performance.now() - t0) / 1000);
    return res;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

/** Spread over the workers, at most MAX_BATCH per message. */
function spread<T>(items: T[], workers: number): T[][] {
  const per = Math.min(MAX_BATCH, Math.max(1, Math.ceil(items.length / Math.max(1, workers))));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += per) out.push(items.slice(i, i + per));
  return out;
}

/** Rebuild each reading over its caller's bytes (no copy; a sealed one's COSE_Encrypt0 too) and answer, in order. */
function deliver(items: TxItem[], res: TxBatchResult): void {
  items.forEach((it, i) => {
    const st = res.status[i];
    const body = res.bodies[i];
    const spans = st === TxCheck.DECODE_ON_MAIN || body === undefined ? undefined
      : coseSpans(it.bytes.length, res.lens[3 * i]!, res.lens[3 * i + 1]!, res.lens[3 * i + 2]!);
    if (!spans || body === undefined) {
      it.done({});
      return;
    }
    const [p, q, s] = spans;
    const b = it.bytes;
    // Plain Uint8Array views (a Buffer's subarray would be a Buffer), as the decoder gives.
    const view = (at: number, len: number): Uint8Array => new Uint8Array(b.buffer, b.byteOffset + at, len);
    const sealedAt = res.sealedAt[i]!;
    const tx: SignedTx<Reading | SealedReading> = {
      bytes: b,
      hash: res.hashes.subarray(32 * i, 32 * i + 32),
      hashHex: res.hashHex[i]!,
      cose: {
        protectedBytes: view(p, res.lens[3 * i]!),
        alg: res.algs[i]! as Alg,
        payload: view(q, res.lens[3 * i + 1]!),
        signature: view(s, res.lens[3 * i + 2]!),
      },
      body: sealedAt === 0 ? (body as Reading) : { type: body.type, meterId: body.meterId, seq: body.seq, time: body.time, sealed: sealedSpans(b, sealedAt) },
    };
    it.done(st === TxCheck.SIG_UNCHECKED ? { tx } : { tx, signatureOk: st === TxCheck.SIG_OK });
  });
}
