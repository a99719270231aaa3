/**
 * Signature verification for the hot path: requests are gathered for one turn of the
 * event loop and handed to a pool of worker threads in batches (a message per batch, not
 * per signature, since a postMessage costs about as much as an Ed25519 verify).
 * With 0 workers it verifies on the calling thread (tests, tiny boxes).
 */
import { Piscina } from 'piscina';
import type { Alg } from '../../protocols/index.js';
import type { NodeMetrics } from '../metrics.js';
import { noopMetrics } from '../metrics.js';
import verifyBatch, { type VerifyBatch } from './verify-worker.js';

interface Item {
  alg: Alg;
  key: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
  done: (ok: boolean) => void;
}

const MAX_BATCH = 256;

export class SignatureVerifier {
  private queue: Item[] = [];
  private scheduled = false;
  private readonly pool: Piscina<VerifyBatch, Uint8Array> | undefined;

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

  private flush(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    // Spread over the workers, at most MAX_BATCH per message.
    const per = Math.min(MAX_BATCH, Math.max(1, Math.ceil(items.length / Math.max(1, this.workers))));
    for (let i = 0; i < items.length; i += per) void this.run(items.slice(i, i + per));
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
      res = this.pool ? await this.pool.run(batch) : verifyBatch(batch);
    } catch {
      res = verifyBatch(batch); // a worker died: verify here rather than lose the answer
    }
    this.metrics.signaturesVerified(items.length, (performance.now() - t0) / 1000);
    items.forEach((it, i) => it.done(res[i] === 1));
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}
