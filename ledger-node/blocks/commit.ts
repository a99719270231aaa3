/**
 * Where a block is stored: one synced store batch (block, commit certificate, head,
 * reading index, transaction index, state changes), then the mempool (which releases the block's write-ahead
 * entries), the state, the head, metrics and receipts follow. Used for blocks this node
 * decided and for blocks fetched by sync alike, always after validateBlock (./validate.ts).
 */
import {
  type Block, type CommitCertificate, type Genesis, type Reading, type SignedTx, type StateChange, type TxBody, StateKind, TxType,
  ReasonCode, RejectionError, allInclusionProofs, encodeBlock, encodeCommit, equalBytes, headerHash, makeReceipt, readingWindow, txSubjects,
} from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { Intake } from '../intake.js';
import type { Mempool, PendingTx } from '../mempool.js';
import type { NodeMetrics } from '../metrics.js';
import { type TxContext, verifyTxSignature } from '../signatures.js';
import type { ChainState } from '../state/layers.js';
import { type MeterRecord, checkReadingTime, readingTimeProblem } from '../state/meter.js';
import { billMeter, indexEntry, txMeter } from '../state/ledger.js';
import { applyTx, requiredSigner } from '../state/rules.js';
import type { LedgerStore } from '../store/store.js';
import { committedReading } from './receipts.js';
import type { CheckedBlock } from './validate.js';
import { ACCEPT_PATH_BEFORE, probe } from '../latency-probe.js';

/** Receipts handed to the bridges per turn of the event loop. */
const RECEIPT_CHUNK = 64;
/** The same while a later block's receipts wait behind this one's (they fall behind no further). */
const RECEIPT_CHUNK_BEHIND = 256;
/** The same when the next height waited for them (MLBENCH_ACCEPT_PATH=before). */
const RECEIPT_CHUNK_BEFORE = 256;

export interface Head {
  height: number;
  hash: Uint8Array;
  time: number | undefined;
}

/** A committed block as listeners see it (billing: bills and payments to the meters' bills topics). */
export interface CommittedBlock {
  readonly height: number;
  readonly time: number;
  readonly txs: readonly SignedTx<TxBody>[];
  readonly changes: readonly StateChange[];
}

export class ChainWriter {
  private lastCommitAt: number | undefined;
  /** The receipts of committed blocks still being handed out, one block after another. */
  private receipts: Promise<void> = Promise.resolve();
  /** Blocks queued or being sent by sendReceipts, and the receipts they still owe (the receiptsWaiting gauges). */
  private waitingBlocks = 0;
  private waitingReceipts = 0;
  /** Told of every block after it is stored and applied (and before its receipts go out). */
  readonly blockListeners = new Set<(b: CommittedBlock) => void>();

  constructor(
    private readonly genesis: Genesis,
    readonly head: Head,
    private readonly store: LedgerStore,
    private readonly state: ChainState,
    private readonly mempool: Mempool,
    private readonly intake: Intake,
    private readonly txctx: TxContext,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
  ) {}

  /** Store a block validateBlock passed (`checked` is what it found) with its commit certificate. */
  async commit(block: Block, commit: CommitCertificate, checked: CheckedBlock): Promise<void> {
    const { header, txs } = block;
    const { decoded, changes } = checked;
    let end = probe?.phase('commit.prepare');
    const hash = headerHash(header);
    // What we held of this block: its own bytes, or the same reading in other bytes (a
    // twin committed in place of ours, docs/protocol.md §3.8): ours is committed too.
    const ours = decoded.map((t) => this.mempool.heldAs(t));
    const readings = decoded.flatMap((t, index) => {
      if (t.body.type !== TxType.Reading) return [];
      return [indexEntry(t.body, header.height, index)];
    });
    const blockBytes = encodeBlock(block);
    const indexed = decoded.map((t) => ({ hash: t.hash, subjects: txSubjects(t.body) }));
    end?.();
    end = probe?.phase('commit.store');
    const endSync = probe?.phase('commit.storeSync');
    const stored = this.store.commitBlock({ height: header.height, hash, blockBytes, commitBytes: encodeCommit(commit), readings, txs: indexed, changes });
    endSync?.();
    await stored;
    end?.();
    end = probe?.phase('commit.apply');
    this.mempool.remove(ours.flatMap((p) => (p ? [p.tx.hashHex] : []))); // and, the block being synced, their write-ahead entries
    // Meters and accounts whose key this block changed (a rotation): what waits signed by them is checked again.
    const rekeyed = changes.filter((c) => {
      if ((c.kind !== StateKind.Meter && c.kind !== StateKind.Account) || c.value === null) return false;
      const was = this.state.committed.get(c.kind, c.id) as { publicKey: Uint8Array } | undefined;
      return was !== undefined && !equalBytes(was.publicKey, (c.value as { publicKey: Uint8Array }).publicKey);
    }).map((c) => `${c.kind}/${c.id}`);
    this.state.commit(changes);
    this.txctx.bills?.add(readings, decoded);
    this.head.height = header.height;
    this.head.hash = hash;
    this.head.time = header.time;
    end?.();
    end = probe?.phase('commit.recheck');
    await this.recheckWaiting(new Set(rekeyed));
    // Relayed sealed readings that waited for a period key this block holds (docs/protocol.md §11.6).
    this.intake.periodKeysCommitted(changes);
    // The readings of meters whose bills still wait stay in memory; others go (state/ledger.ts).
    this.txctx.bills?.keepOnly(new Set(this.mempool.all().flatMap((t) => billMeter(t) ?? [])));

    const now = performance.now();
    const interval = this.lastCommitAt === undefined ? 0 : (now - this.lastCommitAt) / 1000;
    this.lastCommitAt = now;
    this.metrics.blockCommitted(header.height, txs.length, blockBytes.length, interval);
    this.logger.debug({ height: header.height, txs: txs.length }, 'block committed');
    for (const l of this.blockListeners) {
      try {
        l({ height: header.height, time: header.time, txs: decoded, changes });
      } catch (e) {
        this.logger.error({ err: e }, 'block listener failed');
      }
    }
    end?.();
    // The block is stored and applied; its receipts go out behind it, in block order, and
    // the next height does not wait for them (see sendReceipts).
    const owed = { receipts: 0 };
    for (const tx of decoded) if (tx.body.type === TxType.Reading) owed.receipts++;
    this.waitingBlocks++;
    this.receiptsHandedOut(-owed.receipts);
    const sent = this.receipts.then(() => this.sendReceipts(block, commit, checked, decoded, ours, now, owed));
    this.receipts = sent
      .catch((e: unknown) => this.logger.error({ err: e, height: header.height }, 'receipts of a block not sent'))
      .finally(() => {
        this.waitingBlocks--;
        this.receiptsHandedOut(owed.receipts);
      });
    if (ACCEPT_PATH_BEFORE) await sent;
  }

  /** Resolves once the receipts of every block committed so far are handed to the bridges. */
  receiptsSent(): Promise<void> {
    return this.receipts;
  }

  /** `n` receipts went to the bridges (negative: a block brought them); the gauges follow. */
  private receiptsHandedOut(n: number): void {
    this.waitingReceipts -= n;
    this.metrics.receiptsWaiting(this.waitingBlocks, this.waitingReceipts);
  }

  /**
   * A block's receipts to the bridges (intake.emitCommitted), a slice per turn of the event
   * loop. Not awaited by commit(): with the next height waiting for them, a block's fan-out
   * (~110-140 ms at 2,500 readings) had to go in few large slices, each ~10 ms that every
   * PUBACK and reading in flight waited behind (docs/performance.md). Detached, the slices
   * are of 64 and the next height goes on meanwhile; of 256 while a later block's receipts
   * wait behind these, so that the fan-out does not fall further behind the blocks.
   */
  private async sendReceipts(
    block: Block, commit: CommitCertificate, checked: CheckedBlock, decoded: readonly SignedTx<TxBody>[],
    ours: readonly (PendingTx | undefined)[], now: number, owed: { receipts: number },
  ): Promise<void> {
    const { header, txs } = block;
    // PUBACKs and readings waiting since the store's last slice go before the proofs and
    // the first receipts (together ~20-45 ms at 2,500 a block).
    if (!ACCEPT_PATH_BEFORE) await new Promise((r) => setImmediate(r));
    let end = probe?.phase('commit.proofs');
    // The leaves were hashed where the block was made or checked (one tree per block).
    const proofs = allInclusionProofs(txs, checked.leafHashes?.length === txs.length ? checked.leafHashes : undefined);
    end?.();
    end = probe?.phase('commit.receipts');
    let slice = 0;
    for (let index = 0; index < decoded.length; index++) {
      const tx = decoded[index]!;
      if (tx.body.type !== TxType.Reading) continue;
      const at = ours[index]?.acceptedAt;
      if (at !== undefined) this.metrics.commitLatency((now - at) / 1000);
      const r = tx as SignedTx<Reading>;
      this.intake.emitCommitted({
        meterId: r.body.meterId, seq: r.body.seq, txHash: r.hash, height: header.height,
        receipt: makeReceipt(this.genesis.chainId, block, index, commit, proofs[index]),
      });
      slice++;
      const chunk = ACCEPT_PATH_BEFORE ? RECEIPT_CHUNK_BEFORE : this.waitingBlocks > 1 ? RECEIPT_CHUNK_BEHIND : RECEIPT_CHUNK;
      if (slice >= chunk) {
        owed.receipts -= slice;
        this.receiptsHandedOut(slice);
        slice = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
    end?.();
  }

  /**
   * Rebuild the tip over what still waits. A waiting transaction that a block made
   * invalid is dropped: a peer's block took its meter past its seq (the meter sent through
   * two gateways), revoked it, or rotated its key (a reading signed with the old one), or
   * it is older than any later block may hold (docs/protocol.md §3.5); a payment whose bill
   * a peer's block paid, or whose mandate or funds it took (docs/billing.md §19.5). Each
   * drop is logged, counted, and told: a reading to its meter (intake.emitDropped: its
   * receipts topic, its XMPP ack), anything else to billing (intake.emitDroppedTx: a
   * payment's refusal on its meter's bills topic).
   */
  private async recheckWaiting(rekeyed: ReadonlySet<string>): Promise<void> {
    const dropped: { tx: SignedTx<TxBody>; error: RejectionError }[] = [];
    const waiting = new Set(this.mempool.all());
    const durable = new Set(this.mempool.entries().map((p) => p.tx));
    const window = readingWindow(this.genesis);
    const oldKey = new Set<SignedTx<TxBody>>();
    for (const tx of waiting) {
      if (tx.body.type === TxType.Reading) {
        if (!rekeyed.has(`${StateKind.Meter}/${tx.body.meterId}`)) continue;
        const m = this.state.committed.get(StateKind.Meter, tx.body.meterId) as MeterRecord;
        if (m.alg !== tx.cose.alg || !(await verifyTxSignature(this.txctx, m, tx))) oldKey.add(tx);
      } else if (rekeyed.size > 0) {
        // Its signer as the committed state now names it (one named by a transaction still
        // waiting is not rotated by this block): the cache answers for a key that did not change.
        let signer;
        try {
          signer = requiredSigner(this.state.committed, this.txctx.operators, tx, { chain: this.txctx, height: this.head.height + 1 });
        } catch {
          continue;
        }
        if (signer && !(await verifyTxSignature(this.txctx, signer, tx))) oldKey.add(tx);
      }
    }
    const at = { height: this.head.height + 1, time: this.head.time ?? 0 };
    this.state.resetTip((accept) => {
      for (const tx of waiting) {
        try {
          if (oldKey.has(tx)) throw new RejectionError(ReasonCode.BAD_SIGNATURE, `the signer's key was rotated by block ${this.head.height}; re-sign with the new key`, 'signature');
          // Too old for this block is too old for every later one (block times never go back).
          if (readingTimeProblem(window, tx, this.head.time ?? 0) === 'past') checkReadingTime(window, tx, this.head.time ?? 0, 'the last block\'s time');
          accept(applyTx(this.state, tx, at, this.txctx));
        } catch (e) {
          if (durable.has(tx) && e instanceof RejectionError) dropped.push({ tx, error: e });
        }
      }
    });
    if (!dropped.length) return;
    this.mempool.remove(dropped.map((d) => d.tx.hashHex));
    for (const { tx, error } of dropped) {
      // A twin of it was committed while it was still being written: it is committed (§3.8).
      if (await this.isCommitted(tx)) continue;
      if (tx.body.type !== TxType.Reading) {
        this.logger.warn({ txHash: tx.hashHex, type: tx.body.type, meterId: txMeter(tx.body), code: error.code, reason: error.message }, 'accepted operator or ledger transaction no longer valid after a block; dropped');
        if (tx.body.type === TxType.Payment) this.metrics.paymentDropped(error.code);
        this.intake.emitDroppedTx({ tx, code: error.code, message: error.message });
        continue;
      }
      const { meterId, seq } = tx.body;
      this.logger.warn({ meterId, seq: seq.toString(), txHash: tx.hashHex, code: error.code, reason: error.message }, 'accepted reading no longer valid after a block; dropped, the meter is told');
      this.metrics.readingDropped(error.code);
      this.intake.emitDropped({ meterId, seq, txHash: tx.hash, code: error.code, message: error.message });
    }
  }

  /** Whether the same reading as `tx` (its bytes or a twin), or any other transaction's bytes, is in a stored block. */
  async isCommitted(tx: SignedTx<TxBody>): Promise<boolean> {
    if (tx.body.type !== TxType.Reading) return (await this.store.txPosition(tx.hash)) !== undefined;
    return (await committedReading(this.store, this.genesis.chainId, tx.body.meterId, tx.body.seq, tx)) !== undefined;
  }
}
