/**
 * Writing a committed block: one synced store batch (block, commit certificate, reading
 * index, registry changes), then the mempool (which releases the block's write-ahead
 * entries), the registry, the head, metrics and receipts follow. Used for blocks this
 * node decided and for blocks fetched by sync alike.
 */
import {
  type Block, type CommitCertificate, type Genesis, type Reading, type SignedTx, TxType,
  allInclusionProofs, decodeTx, encodeBlock, encodeCommit, headerHash, readingWindow, sameReading,
} from '../protocols/index.js';
import type { Logger } from './api.js';
import { committedReading } from './committed.js';
import type { Intake } from './intake.js';
import type { Mempool } from './mempool.js';
import type { NodeMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import { type MeterRecord, applyTx, checkReadingTime, readingTimeProblem } from './rules.js';
import type { LedgerStore } from './store/store.js';

/** Receipts handed to the bridges per turn of the event loop. */
const RECEIPT_CHUNK = 256;

export interface Head {
  height: number;
  hash: Uint8Array;
  time: number | undefined;
}

export class ChainWriter {
  private lastCommitAt: number | undefined;

  constructor(
    private readonly genesis: Genesis,
    readonly head: Head,
    private readonly store: LedgerStore,
    private readonly registry: Registry,
    private readonly mempool: Mempool,
    private readonly intake: Intake,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
  ) {}

  /** Store a block already checked (checkTxs) with its commit certificate. */
  async commit(block: Block, commit: CommitCertificate, decoded: readonly SignedTx[], changed: ReadonlyMap<string, MeterRecord>): Promise<void> {
    const { header, txs } = block;
    const hash = headerHash(header);
    // What we held of this block: its own bytes, or the same reading in other bytes (a
    // twin committed in place of ours, docs/protocol.md §3.8): ours is committed too.
    const ours = decoded.map((t) => this.mempool.heldAs(t));
    const readings = decoded.flatMap((t, index) => (t.body.type === TxType.Reading ? [{ meterId: t.body.meterId, seq: t.body.seq, index }] : []));
    const blockBytes = encodeBlock(block);
    await this.store.commitBlock({ height: header.height, hash, blockBytes, commitBytes: encodeCommit(commit), readings, meters: changed });
    this.mempool.remove(ours.flatMap((p) => (p ? [p.tx.hashHex] : []))); // and, the block being synced, their write-ahead entries
    this.registry.commit(changed);
    this.head.height = header.height;
    this.head.hash = hash;
    this.head.time = header.time;
    await this.recheckWaiting();

    const now = performance.now();
    const interval = this.lastCommitAt === undefined ? 0 : (now - this.lastCommitAt) / 1000;
    this.lastCommitAt = now;
    this.metrics.blockCommitted(header.height, txs.length, blockBytes.length, interval);
    this.logger.debug({ height: header.height, txs: txs.length }, 'block committed');
    const proofs = allInclusionProofs(txs);
    for (let index = 0; index < decoded.length; index++) {
      const tx = decoded[index]!;
      if (tx.body.type !== TxType.Reading) continue;
      const at = ours[index]?.acceptedAt;
      if (at !== undefined) this.metrics.commitLatency((now - at) / 1000);
      const r = tx as SignedTx<Reading>;
      this.intake.emitCommitted({
        meterId: r.body.meterId, seq: r.body.seq, txHash: r.hash, height: header.height,
        receipt: { chainId: this.genesis.chainId, tx: r.bytes, index, header, proof: proofs[index]!, commit },
      });
      // Let the event loop breathe between chunks: a block's receipts at once held up
      // every meter's next reading (accept p99 ~300 ms at 50% load, docs/performance.md).
      if ((index + 1) % RECEIPT_CHUNK === 0) await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Rebuild the tip over what still waits. A waiting transaction that a block made
   * invalid (a peer's block took its meter past its sequence) is dropped and logged:
   * with one gateway per meter this does not happen.
   */
  private async recheckWaiting(): Promise<void> {
    const dropped: { tx: SignedTx; reason: string }[] = [];
    const waiting = new Set(this.mempool.all());
    const durable = new Set(this.mempool.entries().map((p) => p.tx));
    const window = readingWindow(this.genesis);
    this.registry.resetTip((accept) => {
      const view = { meter: (id: string) => this.registry.meter(id) };
      for (const tx of waiting) {
        try {
          // Too old for this block is too old for every later one (block times never go back).
          if (readingTimeProblem(window, tx, this.head.time ?? 0) === 'past') checkReadingTime(window, tx, this.head.time ?? 0, 'the last block\'s time');
          const { meterId, next } = applyTx(view, tx);
          accept(meterId, next);
        } catch (e) {
          if (durable.has(tx)) dropped.push({ tx, reason: (e as Error).message });
        }
      }
    });
    if (!dropped.length) return;
    this.mempool.remove(dropped.map((d) => d.tx.hashHex));
    for (const d of dropped) {
      // A twin of it was committed while it was still being written: it is committed (§3.8).
      if (await this.isCommitted(d.tx)) continue;
      this.logger.warn({ txHash: d.tx.hashHex, reason: d.reason }, 'accepted transaction no longer valid after a block; dropped');
    }
  }

  /** Whether the same reading as `tx` (its bytes or a twin) is in a stored block. */
  async isCommitted(tx: SignedTx): Promise<boolean> {
    if (tx.body.type !== TxType.Reading) return false;
    const c = await committedReading(this.store, this.genesis.chainId, tx.body.meterId, tx.body.seq);
    return c !== undefined && sameReading(decodeTx(c.receipt.tx, Infinity), tx);
  }
}
