/**
 * Which envelopes we have already taken, so that none is taken twice (docs/protocol.md
 * §12.3). Only envelopes that passed every other check are remembered, so a stranger
 * cannot fill it; each sender has its own bounded share, so a peer can crowd out only its
 * own entries. An entry may be forgotten once its time has left the window (the time
 * check refuses it from then on) or when its sender's share is full; either way the
 * sender's floor rises to the forgotten entry's time, and nothing dated at or below the
 * floor is taken again. So a replay is refused whatever was forgotten, at worst along
 * with a genuine envelope that arrives later than a full share's worth of its successors.
 */

export type ReplayVerdict = 'fresh' | 'stale' | 'replay';

interface Sender {
  /** Envelope id -> its timeMs, in the order taken. */
  readonly seen: Map<string, number>;
  floor: number;
}

export class ReplayGuard {
  private readonly senders = new Map<string, Sender>();

  constructor(
    /** Envelopes dated further than this from our clock are refused, ms. */
    readonly windowMs: number,
    /** Most envelope ids remembered per sender. */
    readonly perSender: number,
  ) {
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new TypeError('windowMs: must be a positive integer');
    if (!Number.isSafeInteger(perSender) || perSender < 1) throw new TypeError('perSender: must be a positive integer');
  }

  /** In the window, above the sender's floor, and not seen before? */
  check(from: string, id: string, timeMs: number, now: number): ReplayVerdict {
    if (Math.abs(timeMs - now) > this.windowMs) return 'stale';
    const s = this.senders.get(from);
    if (!s) return 'fresh';
    if (timeMs <= s.floor) return 'stale';
    return s.seen.has(id) ? 'replay' : 'fresh';
  }

  /** Remember an envelope that was taken; forget what is due. */
  remember(from: string, id: string, timeMs: number, now: number): void {
    let s = this.senders.get(from);
    if (!s) this.senders.set(from, (s = { seen: new Map(), floor: -1 }));
    s.seen.set(id, timeMs);
    // Oldest first: taken order is near enough time order for expiry from the front.
    for (const [k, t] of s.seen) {
      if (s.seen.size <= this.perSender && t >= now - this.windowMs) break;
      s.seen.delete(k);
      if (t > s.floor) s.floor = t;
    }
  }

  /** Ids remembered for `from` (for tests and metrics). */
  size(from: string): number {
    return this.senders.get(from)?.seen.size ?? 0;
  }
}
