/**
 * Who is waiting for which receipt: (meterId, seq) -> (full JID, message id), bounded in
 * size and in age. It lives in memory only: a gateway restart forgets it, and those
 * receipts remain available from the HTTP API (docs/xmpp.md).
 */
import { BoundedMap } from '../../protocols/bounded-map.js';

export interface PendingReceipt {
  readonly jid: string;
  readonly id: string;
  readonly expiresAt: number;
}

export interface PendingOptions {
  /** Most entries kept; the oldest is dropped first. */
  readonly maxEntries?: number;
  /** How long an entry waits for its commit, ms. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export const DEFAULT_PENDING = { maxEntries: 100_000, ttlMs: 60 * 60 * 1000 } as const;

const key = (meterId: string, seq: bigint): string => `${meterId}\u0000${seq}`;

export class PendingReceipts {
  // A Map iterates in insertion order, and entries are never refreshed: the first is the oldest.
  private readonly entries: BoundedMap<string, PendingReceipt>;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(o: PendingOptions = {}) {
    this.entries = new BoundedMap(Math.max(1, o.maxEntries ?? DEFAULT_PENDING.maxEntries));
    this.ttlMs = o.ttlMs ?? DEFAULT_PENDING.ttlMs;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Remember who waits for (meterId, seq), unless someone already does (a resent reading
   * must not steal the receipt of the first). Returns the entry that is kept, or
   * undefined when another entry holds the key.
   */
  add(meterId: string, seq: bigint, jid: string, id: string): PendingReceipt | undefined {
    this.sweep();
    const k = key(meterId, seq);
    if (this.entries.has(k)) return undefined;
    const e = { jid, id, expiresAt: this.now() + this.ttlMs };
    this.entries.set(k, e);
    return e;
  }

  /** Remember who waits for (meterId, seq), replacing whoever did. */
  set(meterId: string, seq: bigint, jid: string, id: string): void {
    this.entries.delete(key(meterId, seq));
    this.add(meterId, seq, jid, id);
  }

  /** Forget `entry` if it is still the one held for (meterId, seq). */
  drop(meterId: string, seq: bigint, entry: PendingReceipt): void {
    const k = key(meterId, seq);
    if (this.entries.get(k) === entry) this.entries.delete(k);
  }

  /** Take (and forget) who waits for (meterId, seq), if anyone still does. */
  take(meterId: string, seq: bigint): PendingReceipt | undefined {
    const k = key(meterId, seq);
    const e = this.entries.get(k);
    if (!e) return undefined;
    this.entries.delete(k);
    return e.expiresAt > this.now() ? e : undefined;
  }

  /** Drop expired entries (oldest first; stops at the first live one). */
  sweep(): void {
    const t = this.now();
    for (const [k, e] of this.entries) {
      if (e.expiresAt > t) break;
      this.entries.delete(k);
    }
  }
}
