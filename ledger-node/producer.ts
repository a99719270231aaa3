/**
 * Block production for a single validator: cut a block every `blockIntervalMs` or as soon
 * as `blockMaxTxs` transactions wait, whichever comes first, and none while idle. The
 * validator signs its precommit (round 0); with one validator that is the whole commit
 * certificate. The block, its index entries, the registry changes and the removal of
 * its write-ahead entries are stored in one synced batch.
 */
import type { KeyObject } from 'node:crypto';
import {
  Alg, type Block, type CommitCertificate, type Genesis, type Reading, type SignedTx, TxType, VoteType,
  allInclusionProofs, encodeBlock, encodeCommit, headerHash, makeHeader, voteSignBytes,
} from '../protocols/index.js';
import type { Logger } from './api.js';
import { nativeSign } from './crypto/native.js';
import type { Intake } from './intake.js';
import type { Mempool, PendingTx } from './mempool.js';
import type { NodeMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import { type MeterRecord, applyTx } from './rules.js';
import type { LedgerStore } from './store/store.js';

export interface Head {
  height: number;
  hash: Uint8Array;
  time: number | undefined;
}

export interface ProducerOptions {
  readonly blockIntervalMs: number;
  readonly blockMaxTxs: number;
  readonly validatorId: string;
  readonly validatorKey: KeyObject;
  readonly now: () => number;
}

export class BlockProducer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastCommitAt: number | undefined;

  constructor(
    private readonly genesis: Genesis,
    readonly head: Head,
    private readonly opts: ProducerOptions,
    private readonly store: LedgerStore,
    private readonly registry: Registry,
    private readonly mempool: Mempool,
    private readonly intake: Intake,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
  ) {}

  /** Something was accepted: cut now if a block is full, else make sure a timer runs. */
  poke(): void {
    if (this.stopped || this.running) return;
    const waiting = this.mempool.durableCount;
    if (waiting === 0) return;
    if (waiting >= this.opts.blockMaxTxs) {
      this.clearTimer();
      this.runNow();
      return;
    }
    if (!this.timer) {
      const age = performance.now() - (this.mempool.oldestAcceptedAt() ?? performance.now());
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.runNow();
      }, Math.max(0, this.opts.blockIntervalMs - age));
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private runNow(): void {
    if (this.running || this.stopped) return;
    this.running = this.produce()
      .catch((e) => this.logger.error({ err: e }, 'block production failed; will retry'))
      .finally(() => {
        this.running = undefined;
        this.poke();
      });
  }

  private async produce(): Promise<void> {
    const batch = this.mempool.peek(this.opts.blockMaxTxs);
    if (batch.length === 0) return;
    const txs = batch.map((p) => p.tx.bytes);
    const height = this.head.height + 1;
    const time = Math.max(this.opts.now(), this.head.time ?? 0);
    const header = makeHeader({ chainId: this.genesis.chainId, height, time, prevHash: this.head.hash, proposer: this.opts.validatorId }, txs);
    const hash = headerHash(header);
    const signature = nativeSign(Alg.EdDSA, this.opts.validatorKey, voteSignBytes(this.genesis.chainId, VoteType.Precommit, height, 0, hash));
    const commit: CommitCertificate = { height, round: 0, blockHash: hash, signatures: [{ validator: this.opts.validatorId, signature }] };

    // Apply to the committed registry; the tip already holds these changes.
    const changed = new Map<string, MeterRecord>();
    const view = { meter: (id: string) => changed.get(id) ?? this.registry.committed.meter(id) };
    const readings: { meterId: string; seq: bigint; index: number }[] = [];
    batch.forEach((p, index) => {
      const { meterId, next } = applyTx(view, p.tx); // valid: intake applied it to the tip in this order
      changed.set(meterId, next);
      if (p.tx.body.type === TxType.Reading) readings.push({ meterId, seq: p.tx.body.seq, index });
    });

    const block: Block = { header, txs };
    const blockBytes = encodeBlock(block);
    await this.store.commitBlock({
      height, hash, blockBytes, commitBytes: encodeCommit(commit), readings, meters: changed,
      pendingNos: batch.map((p) => p.no),
    });
    for (const p of batch) this.registry.commit(p.tx.body.meterId, view.meter(p.tx.body.meterId)!, true);
    this.mempool.shift(batch.length);
    this.head.height = height;
    this.head.hash = hash;
    this.head.time = time;

    const nowPerf = performance.now();
    const interval = this.lastCommitAt === undefined ? 0 : (nowPerf - this.lastCommitAt) / 1000;
    this.lastCommitAt = nowPerf;
    this.metrics.blockCommitted(height, txs.length, blockBytes.length, interval);
    this.logger.debug({ height, txs: txs.length }, 'block committed');
    this.emitReceipts(batch, header, commit, txs);
  }

  private emitReceipts(batch: PendingTx[], header: ReturnType<typeof makeHeader>, commit: CommitCertificate, txs: Uint8Array[]): void {
    const proofs = allInclusionProofs(txs);
    const now = performance.now();
    batch.forEach((p, index) => {
      if (p.tx.body.type !== TxType.Reading) return;
      const tx = p.tx as SignedTx<Reading>;
      this.metrics.commitLatency((now - p.acceptedAt) / 1000);
      this.intake.emitCommitted({
        meterId: tx.body.meterId, seq: tx.body.seq, txHash: tx.hash, height: header.height,
        receipt: { chainId: this.genesis.chainId, tx: tx.bytes, index, header, proof: proofs[index]!, commit },
      });
    });
  }

  /** Commit everything already accepted (bounded by `deadlineMs`), then stop. */
  async drain(deadlineMs: number): Promise<void> {
    const end = performance.now() + deadlineMs;
    this.clearTimer();
    while (performance.now() < end) {
      if (this.running) await this.running;
      if (this.mempool.durableCount === 0) break;
      this.runNow();
    }
    this.stopped = true;
    this.clearTimer();
    if (this.running) await this.running;
  }
}
