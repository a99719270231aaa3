/**
 * Backoff for local-account password guesses, per source address and per account. After
 * a few free failures each further one doubles the wait (1 s, 2 s, ... up to 60 s) before
 * that source, or anyone but a source the account logged in from before, may try again;
 * an attempt during the wait is refused without a password check. So a flood from one
 * address gets a handful of guesses and then one per minute, a flood spread over many
 * addresses gets one per minute per account, and neither delays a login from elsewhere.
 * Pure: time comes in as arguments; memory is bounded (oldest entries go first).
 */
import { isIPv6 } from 'node:net';
import { BoundedMap } from '../../protocols/bounded-map.js';

export interface BackoffRule {
  /** Failures allowed before the first wait. */
  readonly free: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /** A count starts again after this long without a failure. */
  readonly forgetMs: number;
}

export const SOURCE_BACKOFF: BackoffRule = { free: 3, baseMs: 1000, maxMs: 60_000, forgetMs: 15 * 60_000 };
export const ACCOUNT_BACKOFF: BackoffRule = { free: 10, baseMs: 1000, maxMs: 60_000, forgetMs: 15 * 60_000 };
/** A source that logged in to an account skips that account's wait for this long. */
const KNOWN_SOURCE_MS = 24 * 3600_000;
const MAX_ENTRIES = 10_000;

interface Count {
  failures: number;
  last: number;
  until: number;
}

/**
 * The address a backoff is kept for: IPv4 as is (also when IPv4-mapped), IPv6 by its /64,
 * which one host usually holds whole. '' when unknown (in-process streams).
 */
export function sourceOf(address: string | undefined): string {
  if (!address) return '';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.split('%', 1)[0]!.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export class LoginThrottle {
  // Each bounded: an entry is made the newest when touched, the oldest goes first.
  private readonly sources = new BoundedMap<string, Count>(MAX_ENTRIES);
  private readonly accounts = new BoundedMap<string, Count>(MAX_ENTRIES);
  /** `${source} ${account}` -> time of the last successful login. */
  private readonly known = new BoundedMap<string, number>(MAX_ENTRIES);

  constructor(private readonly source = SOURCE_BACKOFF, private readonly account = ACCOUNT_BACKOFF) {}

  /** How long `source` must wait before trying `username` again; 0 if it may now. */
  wait(source: string, username: string, now: number): number {
    const s = this.sources.get(source);
    if (s && s.until > now) return s.until - now;
    if (this.isKnown(source, username, now)) return 0;
    const a = this.accounts.get(username);
    return a && a.until > now ? a.until - now : 0;
  }

  failed(source: string, username: string, now: number): void {
    this.bump(this.sources, source, this.source, now);
    // A source the account logged in from before does not lock the account for others.
    if (!this.isKnown(source, username, now)) this.bump(this.accounts, username, this.account, now);
  }

  succeeded(source: string, username: string, now: number): void {
    this.sources.delete(source);
    this.known.touch(`${source} ${username}`, now);
  }

  private isKnown(source: string, username: string, now: number): boolean {
    const t = this.known.get(`${source} ${username}`);
    return t !== undefined && now - t < KNOWN_SOURCE_MS;
  }

  private bump(m: BoundedMap<string, Count>, key: string, rule: BackoffRule, now: number): void {
    const old = m.get(key);
    const failures = old && now - old.last < rule.forgetMs ? old.failures + 1 : 1;
    const over = failures - rule.free;
    const until = over > 0 ? now + Math.min(rule.baseMs * 2 ** Math.min(over - 1, 30), rule.maxMs) : 0;
    m.touch(key, { failures, last: now, until });
  }
}
