/**
 * Accepted transactions waiting for a block, and their write-ahead. `add` resolves only
 * once the transaction is on disk (group commit: everything staged while one synced
 * batch is written goes into the next batch), so an acknowledgement is never ahead of
 * the disk.
 */
import type { SignedTx } from '../protocols/index.js';
import type { LedgerStore } from './store/store.js';

export interface PendingTx {
  readonly no: number;
  readonly tx: SignedTx;
  /** performance.now() at durable accept. */
  readonly acceptedAt: number;
}

interface Staged {
  readonly no: number;
  readonly tx: SignedTx;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class Mempool {
  private readonly durable: PendingTx[] = [];
  private head = 0; // index of the first live entry in `durable`
  private staged: Staged[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: LedgerStore,
    private nextNo: number,
    /** Called after a failed write with the transactions that were dropped. */
    private readonly onWriteFailed: (dropped: SignedTx[]) => void,
    /** Called after each successful group commit. */
    private readonly onDurable: () => void,
  ) {}

  /** Entries recovered from the write-ahead at start-up. */
  restore(entries: readonly { no: number; tx: SignedTx }[]): void {
    const now = performance.now();
    for (const e of entries) {
      this.durable.push({ no: e.no, tx: e.tx, acceptedAt: now });
      this.nextNo = Math.max(this.nextNo, e.no + 1);
    }
  }

  /** Stage `tx` for the write-ahead; resolves when it is synced to disk. */
  add(tx: SignedTx): Promise<void> {
    return new Promise((resolve, reject) => {
      this.staged.push({ no: this.nextNo++, tx, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.staged.length) {
      const group = this.staged;
      this.staged = [];
      try {
        await this.store.appendPending(group.map((s) => ({ no: s.no, bytes: s.tx.bytes })));
      } catch (e) {
        // Everything staged behind the failed group was accepted against a tip that
        // included it, so it goes too; the tip is rebuilt from what is on disk.
        const dropped = [...group, ...this.staged];
        this.staged = [];
        this.onWriteFailed(dropped.map((s) => s.tx));
        for (const s of dropped) s.reject(e);
        continue;
      }
      const now = performance.now();
      for (const s of group) this.durable.push({ no: s.no, tx: s.tx, acceptedAt: now });
      for (const s of group) s.resolve();
      this.onDurable();
    }
    this.flushing = undefined;
  }

  /** Wait until nothing is staged. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Durable entries, oldest first, at most `max`. */
  peek(max: number): PendingTx[] {
    return this.durable.slice(this.head, this.head + max);
  }

  /** Drop the `n` oldest durable entries (they are committed). */
  shift(n: number): void {
    this.head += n;
    if (this.head > 4096 && this.head * 2 > this.durable.length) {
      this.durable.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Everything accepted, durable first then staged, in accept order. */
  all(): SignedTx[] {
    return [...this.durable.slice(this.head).map((p) => p.tx), ...this.staged.map((s) => s.tx)];
  }

  get durableCount(): number {
    return this.durable.length - this.head;
  }

  get size(): number {
    return this.durableCount + this.staged.length;
  }

  oldestAcceptedAt(): number | undefined {
    return this.durable[this.head]?.acceptedAt;
  }
}
