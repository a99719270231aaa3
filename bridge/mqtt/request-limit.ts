/**
 * How often a meter may ask for full receipts (docs/protocol.md §8.3.2): each request costs
 * the gateway a block read and decode (up to ledger.blockMaxTxs transactions) for a few
 * bytes sent, so requests are held to a token bucket per meter, whichever of its sessions
 * they come on. Pure: the caller passes the time.
 */
import { BoundedMap } from '../../protocols/bounded-map.js';

export interface RequestLimits {
  /** Requests a meter may make at once. */
  readonly burst: number;
  /** Requests a second it may make on average. */
  readonly perSecond: number;
}

export const DEFAULT_RECEIPT_REQUEST_LIMITS: RequestLimits = { burst: 10, perSecond: 1 };

/** Meters tracked at most; a meter forgotten starts again with a full bucket (fails open, bounded memory). */
const MAX_METERS = 100_000;

export class RequestLimiter {
  private readonly buckets = new BoundedMap<string, { tokens: number; at: number }>(MAX_METERS);

  constructor(private readonly limits: RequestLimits = DEFAULT_RECEIPT_REQUEST_LIMITS) {}

  /** True, and one token taken, when `meterId` may make a request at `nowMs`. */
  take(meterId: string, nowMs: number): boolean {
    const { burst, perSecond } = this.limits;
    const b = this.buckets.get(meterId) ?? { tokens: burst, at: nowMs };
    b.tokens = Math.min(burst, b.tokens + (Math.max(0, nowMs - b.at) * perSecond) / 1000);
    b.at = Math.max(b.at, nowMs); // a clock going back gives nothing back, now or later
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(meterId, b);
    return ok;
  }
}
