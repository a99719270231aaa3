/**
 * Transaction gossip between gateways (docs/consensus.md "Mempool gossip"). Accepted
 * transactions go out in batches: one signed envelope (one Ed25519 signature to make, one
 * to check at each peer, one NATS message) per batch instead of per reading; a batch
 * leaves FLUSH_MS after its first transaction, or at once when it is full.
 *
 * From a validator, gossip only has its signatures checked into our cache: a validator
 * proposes what its own meters sent, in the order they sent it, so the proposal carrying
 * them later costs nothing. From an observer (which never proposes), transactions are
 * submitted to our intake, in batch order, and we carry them.
 */
import { decodeAnyTx, decodeTxBatch, encodeTxBatch } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { Intake } from '../intake.js';
import { type TxContext, verifyTxSignature } from '../signatures.js';
import type { ChainState } from '../state/layers.js';
import { requiredSigner } from '../state/rules.js';
import type { Scheduler } from './ports.js';

const FLUSH_MS = 20;
const MAX_TXS = 500;
const MAX_BYTES = 1 << 20;

export interface GossipOptions {
  /** Broadcast one batch (envelope kind 'tx'). */
  readonly send: (batch: Uint8Array) => void;
  readonly scheduler: Scheduler;
  /** Who validates now (a live view: the set changes with the chain). */
  readonly validators: Pick<ReadonlySet<string>, 'has'>;
  readonly intake: Intake;
  readonly state: ChainState;
  readonly txctx: TxContext;
  /** An observer's transaction was accepted here: a block may be due. */
  readonly onAccepted: () => void;
  readonly logger: Logger;
}

export class TxGossip {
  private queue: Uint8Array[] = [];
  private bytes = 0;
  private cancelFlush: (() => void) | undefined;

  constructor(private readonly opts: GossipOptions) {}

  /** Share a transaction we accepted (batched, in accept order). */
  gossip(tx: Uint8Array): void {
    this.queue.push(tx);
    this.bytes += tx.length;
    if (this.queue.length >= MAX_TXS || this.bytes >= MAX_BYTES) this.flush();
    else this.cancelFlush ??= this.opts.scheduler.after(FLUSH_MS, () => this.flush());
  }

  flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.bytes = 0;
    this.opts.send(encodeTxBatch(batch));
  }

  /** A batch a peer gossiped. */
  onBatch(from: string, payload: Uint8Array): void {
    let txs: Uint8Array[];
    try {
      txs = decodeTxBatch(payload);
    } catch (e) {
      this.opts.logger.debug({ from, err: (e as Error).message }, 'undecodable gossip');
      return;
    }
    if (this.opts.validators.has(from)) {
      // Taking a validator's gossip into our blocks could commit a meter's reading n+1
      // while n (gossip lost on the way) still waits at its gateway, and n would then be
      // refused. So only the signatures are checked now.
      for (const tx of txs) void this.preverify(tx);
      return;
    }
    for (const tx of txs) {
      void this.opts.intake.submit(tx, { meterId: '', transport: 'peer' }).then((r) => {
        if (r.status === 'accepted') this.opts.onAccepted();
      });
    }
  }

  /** Check a gossiped transaction's signature into the cache (valid or not, nothing else). */
  private async preverify(bytes: Uint8Array): Promise<void> {
    const { txctx, state } = this.opts;
    try {
      const tx = decodeAnyTx(bytes, txctx.maxTxBytes);
      await verifyTxSignature(txctx, requiredSigner(state, txctx.operators, tx, { chain: txctx }), tx);
    } catch {
      /* not valid here (yet): the proposal will say */
    }
  }
}
