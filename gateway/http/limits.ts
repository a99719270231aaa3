/**
 * Limits of what anyone may POST without the admin token (session challenges, owner
 * transactions): token buckets per source address and per account, checked before any
 * signature work, so a flood costs the gateway little (the node's MeterRateLimiter).
 */
import { MeterRateLimiter } from '../../ledger-node/ratelimit.js';
import { HttpError } from './errors.js';

export interface LimitOptions {
  /** Requests per second per source address, on average; bursts of `sourceBurst`. */
  readonly sourcePerSecond?: number;
  readonly sourceBurst?: number;
  /** Requests per second per account (or paying meter). */
  readonly accountPerSecond?: number;
  readonly accountBurst?: number;
  readonly now?: () => number;
}

export class RequestLimits {
  private readonly sources: MeterRateLimiter;
  private readonly accounts: MeterRateLimiter;
  constructor(o: LimitOptions = {}) {
    this.sources = new MeterRateLimiter(o.sourcePerSecond ?? 20, o.sourceBurst ?? 60, o.now, 100_000);
    this.accounts = new MeterRateLimiter(o.accountPerSecond ?? 2, o.accountBurst ?? 20, o.now, 100_000);
  }

  /** 429 E_HTTP_RATE_LIMITED when `remote` sent too much. */
  source(remote: string): void {
    if (!this.sources.take(remote)) throw new HttpError('E_HTTP_RATE_LIMITED', `too many requests from ${remote || 'this source'}; retry later`, { 'retry-after': '1' });
  }

  /** 429 E_HTTP_RATE_LIMITED when `account` was asked for too often. */
  account(account: string): void {
    if (!this.accounts.take(account)) throw new HttpError('E_HTTP_RATE_LIMITED', `too many requests for account "${account}"; retry later`, { 'retry-after': '1' });
  }
}
