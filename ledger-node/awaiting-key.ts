/**
 * Relayed sealed readings that reached this node before their period key
 * (docs/protocol.md §11.6 "Order of arrival"): held, bounded in number and time, and
 * taken again when the key is accepted here (intake) or committed (a block from a peer).
 *
 * A gateway relays a meter's period key and its readings in the order the meter sent
 * them, but a peer checks a batch's transactions concurrently, and a key can come by
 * another path (a block, the durable stream) than the readings: without this, a reading
 * refused with E_CONF_UNKNOWN_KEY on the way would never be offered again.
 */

interface Held {
  readonly resume: () => void;
  readonly expire: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export interface AwaitingKeyLimits {
  /** Readings held at once, all keys together; one more is refused at once. */
  readonly max: number;
  /** How long one reading waits for its key before it is refused (E_CONF_UNKNOWN_KEY). */
  readonly waitMs: number;
}

/** Defaults: under the durable stream's ack wait (30 s), so a held message is not redelivered meanwhile. */
export const AWAITING_KEY_DEFAULTS: AwaitingKeyLimits = { max: 4096, waitMs: 25_000 };

export class AwaitingKey {
  private readonly byKey = new Map<string, Set<Held>>();
  private count = 0;

  constructor(private readonly limits: AwaitingKeyLimits = AWAITING_KEY_DEFAULTS) {}

  /**
   * Hold a reading until key `keyRecord` (state/confidential.ts periodKeyRecordId) comes:
   * `resume` then, or `expire` after waitMs. False (nothing held) when the set is full.
   */
  hold(keyRecord: string, resume: () => void, expire: () => void): boolean {
    if (this.count >= this.limits.max) return false;
    const set = this.byKey.get(keyRecord) ?? new Set<Held>();
    const held: Held = {
      resume, expire,
      timer: setTimeout(() => {
        if (this.take(keyRecord, held)) expire();
      }, this.limits.waitMs),
    };
    held.timer.unref?.();
    set.add(held);
    this.byKey.set(keyRecord, set);
    this.count++;
    return true;
  }

  /** Key `keyRecord` is in: every reading held for it is taken again, in arrival order. */
  release(keyRecord: string): void {
    const set = this.byKey.get(keyRecord);
    if (!set) return;
    this.byKey.delete(keyRecord);
    for (const h of set) {
      clearTimeout(h.timer);
      this.count--;
      h.resume();
    }
  }

  /** Refuse everything held (shutting down). */
  expireAll(): void {
    for (const [id, set] of [...this.byKey]) {
      for (const h of [...set]) if (this.take(id, h)) h.expire();
    }
  }

  get size(): number {
    return this.count;
  }

  private take(keyRecord: string, h: Held): boolean {
    const set = this.byKey.get(keyRecord);
    if (!set?.delete(h)) return false;
    if (set.size === 0) this.byKey.delete(keyRecord);
    clearTimeout(h.timer);
    this.count--;
    return true;
  }
}
