/**
 * Per-meter token buckets: a meter may send `ratePerSecond` readings per second on
 * average, in bursts of up to `burst`. Checked before any signature work, so a flooding
 * meter costs little and well-behaved meters keep their latency.
 */
import { BoundedMap } from '../protocols/bounded-map.js';

export class MeterRateLimiter {
  private readonly buckets: BoundedMap<string, { tokens: number; at: number }>;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    /** Buckets kept at most; the one made longest ago is forgotten first. */
    maxMeters = 1_000_000,
  ) {
    this.buckets = new BoundedMap(maxMeters);
  }

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Take one token for `meterId`; false when its bucket is empty. */
  take(meterId: string): boolean {
    if (!this.enabled) return true;
    const t = this.now();
    let b = this.buckets.get(meterId);
    if (!b) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(meterId, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerSecond);
    b.at = t;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
