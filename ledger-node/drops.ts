/**
 * Accepted transactions that a block made invalid before their commit, as the node tells
 * them: a reading (DroppedReading, to the bridges, protocols/intake.ts) or an operator or
 * ledger transaction (DroppedTx: a payment goes to its meter's bills topic, gateway/billing.ts).
 * Each kind has one DropFeed; drops found before anyone listens (the write-ahead's
 * recovery at start) are kept for the first listener.
 */
import type { ReasonCode, SignedTx, TxBody } from '../protocols/index.js';
import type { Logger } from './api.js';

/** Drops kept for the first listener at most (each is logged and counted anyway). */
const MAX_EARLY_DROPS = 10_000;

/** An accepted transaction other than a reading, dropped before its commit with the refusal it would now get. */
export interface DroppedTx {
  readonly tx: SignedTx<TxBody>;
  readonly code: ReasonCode;
  readonly message: string;
}

export class DropFeed<T> {
  private readonly listeners = new Set<(d: T) => void>();
  private readonly early: T[] = [];

  constructor(private readonly logger: Logger) {}

  on(listener: (d: T) => void): () => void {
    this.listeners.add(listener);
    // A meter with a persistent session gets what was dropped at start-up when it is back.
    const early = this.early.splice(0);
    if (early.length) setImmediate(() => early.forEach((d) => this.emit(d)));
    return () => this.listeners.delete(listener);
  }

  emit(d: T): void {
    if (this.listeners.size === 0) {
      if (this.early.length < MAX_EARLY_DROPS) this.early.push(d);
      return;
    }
    for (const l of this.listeners) {
      try {
        l(d);
      } catch (e) {
        this.logger.error({ err: e }, 'drop listener failed');
      }
    }
  }
}
