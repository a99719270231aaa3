/**
 * Accepted transactions waiting for a block, and their write-ahead. `add` resolves only
 * once the transaction is on disk (group commit: everything staged while one synced
 * record is written goes into the next record), so an acknowledgement is never ahead of
 * the disk. `remove` (after the block is synced) releases the entries' write-ahead.
 */
import { type SignedTx, type TxBody, TxType, readingKey, sameReading } from '../protocols/index.js';
import type { WriteAhead } from './store/wal.js';
import { probe } from './latency-probe.js';

export interface PendingTx {
  readonly no: number;
  readonly tx: SignedTx<TxBody>;
  /** performance.now() at durable accept. */
  readonly acceptedAt: number;
  /** performance.now() when the intake got it (before its checks and the write-ahead). */
  readonly receivedAt: number;
}

interface Staged {
  readonly no: number;
  readonly tx: SignedTx<TxBody>;
  readonly receivedAt: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class Mempool {
  /** Durable entries by tx hash (hex), in accept order (a Map keeps insertion order). */
  private readonly durable = new Map<string, PendingTx>();
  private staged: Staged[] = [];
  /** The group being written: neither staged any more nor durable yet, but accepted all the same. */
  private writing: Staged[] = [];
  private readonly stagedHashes = new Set<string>();
  /** Readings held (staged, being written or durable) by identity (docs/protocol.md §3.8). */
  private readonly readings = new Map<string, SignedTx<TxBody>>();
  private flushing: Promise<void> | undefined;
  /** performance.now() when the oldest staged entry was staged (the probe's). */
  private stagedSince = 0;

  constructor(
    private readonly wal: WriteAhead,
    private nextNo: number,
    /** Called after a failed write with the transactions that were dropped. */
    private readonly onWriteFailed: (dropped: SignedTx<TxBody>[]) => void,
    /** Called after each successful group commit. */
    private readonly onDurable: () => void,
  ) {}

  /** Entries recovered from the write-ahead at start-up; new entries are numbered from `nextNo` on. */
  restore(entries: readonly { no: number; tx: SignedTx<TxBody> }[], nextNo: number): void {
    const now = performance.now();
    for (const e of entries) {
      this.durable.set(e.tx.hashHex, { no: e.no, tx: e.tx, acceptedAt: now, receivedAt: now });
      this.index(e.tx);
      this.nextNo = Math.max(this.nextNo, e.no + 1);
    }
    this.nextNo = Math.max(this.nextNo, nextNo);
  }

  /** Stage `tx` for the write-ahead; resolves when it is synced to disk. */
  add(tx: SignedTx<TxBody>, receivedAt = performance.now()): Promise<void> {
    return new Promise((resolve, reject) => {
      if (probe && this.staged.length === 0) this.stagedSince = performance.now();
      this.staged.push({ no: this.nextNo++, tx, receivedAt, resolve, reject });
      this.stagedHashes.add(tx.hashHex);
      this.index(tx);
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.staged.length) {
      const group = this.staged;
      this.staged = [];
      this.writing = group;
      const tw = performance.now();
      probe?.add('wal.groupWaitOldest', tw - this.stagedSince);
      probe?.add('wal.groupSize', group.length);
      try {
        await this.wal.append(group.map((s) => ({ no: s.no, bytes: s.tx.bytes })));
        probe?.add('wal.append', performance.now() - tw);
      } catch (e) {
        this.writing = [];
        // Everything staged behind the failed group was accepted against a tip that
        // included it, so it goes too; the tip is rebuilt from what is on disk.
        const dropped = [...group, ...this.staged];
        this.staged = [];
        for (const d of dropped) {
          this.stagedHashes.delete(d.tx.hashHex);
          this.unindex(d.tx);
        }
        this.onWriteFailed(dropped.map((s) => s.tx));
        for (const s of dropped) s.reject(e);
        continue;
      }
      this.writing = [];
      const now = performance.now();
      for (const s of group) {
        const h = s.tx.hashHex;
        this.stagedHashes.delete(h);
        this.durable.set(h, { no: s.no, tx: s.tx, acceptedAt: now, receivedAt: s.receivedAt });
      }
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
    const out: PendingTx[] = [];
    for (const p of this.durable.values()) {
      if (out.length >= max) break;
      out.push(p);
    }
    return out;
  }

  /**
   * Take committed (or no longer valid) transactions out and release their write-ahead
   * entries; returns those that were here. Call it only once their block is synced.
   */
  remove(hashes: Iterable<string>): PendingTx[] {
    const out: PendingTx[] = [];
    for (const h of hashes) {
      const p = this.durable.get(h);
      if (p) {
        this.durable.delete(h);
        this.unindex(p.tx);
        out.push(p);
      }
    }
    this.wal.release(out.map((p) => p.no));
    return out;
  }

  private index(tx: SignedTx<TxBody>): void {
    if (tx.body.type === TxType.Reading) this.readings.set(readingKey(tx.body.meterId, tx.body.seq), tx);
  }

  private unindex(tx: SignedTx<TxBody>): void {
    if (tx.body.type !== TxType.Reading) return;
    const k = readingKey(tx.body.meterId, tx.body.seq);
    if (this.readings.get(k) === tx) this.readings.delete(k);
  }

  /** The reading held as (meterId, seq), durable or not. */
  reading(meterId: string, seq: bigint): SignedTx<TxBody> | undefined {
    return this.readings.get(readingKey(meterId, seq));
  }

  /**
   * The durable entry that `tx` (of a committed block) stands for: the same bytes, or the
   * same reading in other bytes (a twin, docs/protocol.md §3.8).
   */
  heldAs(tx: SignedTx<TxBody>): PendingTx | undefined {
    const same = this.durable.get(tx.hashHex);
    if (same || tx.body.type !== TxType.Reading) return same;
    const r = this.readings.get(readingKey(tx.body.meterId, tx.body.seq));
    return r && sameReading(r, tx) ? this.durable.get(r.hashHex) : undefined;
  }

  /** Accepted already (durable or being written)? */
  has(hashHex: string): boolean {
    return this.durable.has(hashHex) || this.stagedHashes.has(hashHex);
  }

  /** Everything accepted, durable first then being written then staged, in accept order. */
  all(): SignedTx<TxBody>[] {
    return [...[...this.durable.values()].map((p) => p.tx), ...this.writing.map((s) => s.tx), ...this.staged.map((s) => s.tx)];
  }

  /** Durable entries in accept order (to re-check them after a block). */
  entries(): PendingTx[] {
    return [...this.durable.values()];
  }

  get durableCount(): number {
    return this.durable.size;
  }

  get size(): number {
    return this.durable.size + this.writing.length + this.staged.length;
  }

  oldestAcceptedAt(): number | undefined {
    return this.durable.values().next().value?.acceptedAt;
  }

  /** How long ago (ms) the oldest waiting transaction reached the intake: the block interval counts from then. */
  oldestReceivedAgeMs(): number | undefined {
    const at = this.durable.values().next().value?.receivedAt;
    return at === undefined ? undefined : performance.now() - at;
  }
}
