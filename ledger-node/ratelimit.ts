/**
 * Per-meter token buckets: a meter may send `ratePerSecond` readings per second on
 * average, in bursts of up to `burst`. Checked before any signature work, so a flooding
 * meter costs little and well-behaved meters keep their latency.
 */
export class MeterRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    /** Buckets kept at most; idle full ones are forgotten first. */
    private readonly maxMeters = 1_000_000,
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Take one token for `meterId`; false when its bucket is empty. */
  take(meterId: string): boolean {
    if (!this.enabled) return true;
    const t = this.now();
    let b = this.buckets.get(meterId);
    if (!b) {
      if (this.buckets.size >= this.maxMeters) this.buckets.delete(this.buckets.keys().next().value!);
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
