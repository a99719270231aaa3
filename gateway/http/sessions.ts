/**
 * Owner sessions (docs/http-api.md §Sessions): a one-time challenge, signed with the
 * account's current key from ledger state, buys a short-lived bearer token scoped to that
 * account. Both live in this gateway's memory only: a restart ends every session (the
 * owner signs a new challenge), and nothing secret is ever on disk.
 *
 * Challenges are single use (taken out on the first attempt, right or wrong) and bounded
 * in number; tokens are kept as their SHA-256 only, so a heap dump does not give them away.
 * A token remembers the key epoch it was opened with: once the registrar rotates the
 * account's key (a lost phone), every session of the old key is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Alg, SESSION_CHALLENGE_PATTERN, fromHex, sessionSignBytes, verifySignature } from '../../protocols/index.js';
import { HttpError } from './errors.js';

export const CHALLENGE_TTL_MS = 60_000;
export const SESSION_TTL_MS = 15 * 60_000;
/** Live challenges held at most; one more is 503 E_SESSION_BUSY until some expire. */
export const MAX_CHALLENGES = 10_000;
/** Live sessions held at most; the oldest goes first when full. */
export const MAX_SESSIONS = 100_000;

/** An account's key as ledger state holds it. */
export interface AccountKey {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly keyEpoch: number;
}

export interface Session {
  readonly account: string;
  readonly keyEpoch: number;
  readonly expires: number;
}

export interface SessionOptions {
  readonly now?: () => number;
  readonly challengeTtlMs?: number;
  readonly sessionTtlMs?: number;
  readonly maxChallenges?: number;
  readonly maxSessions?: number;
}

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export class SessionStore {
  private readonly challenges = new Map<string, { account: string; expires: number }>();
  /** SHA-256 (hex) of the token -> session; insertion order is opening order. */
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;
  readonly challengeTtlMs: number;
  readonly sessionTtlMs: number;
  private readonly maxChallenges: number;
  private readonly maxSessions: number;

  constructor(opts: SessionOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.challengeTtlMs = opts.challengeTtlMs ?? CHALLENGE_TTL_MS;
    this.sessionTtlMs = opts.sessionTtlMs ?? SESSION_TTL_MS;
    this.maxChallenges = opts.maxChallenges ?? MAX_CHALLENGES;
    this.maxSessions = opts.maxSessions ?? MAX_SESSIONS;
  }

  get size(): { challenges: number; sessions: number } {
    return { challenges: this.challenges.size, sessions: this.sessions.size };
  }

  /** A fresh challenge for `account` (the caller checked the account exists). */
  challenge(account: string): { challenge: string; expires: number } {
    const t = this.now();
    if (this.challenges.size >= this.maxChallenges) {
      // Insertion order is expiry order (one TTL for all): drop the expired from the front.
      for (const [c, v] of this.challenges) {
        if (v.expires > t) break;
        this.challenges.delete(c);
      }
      if (this.challenges.size >= this.maxChallenges) throw new HttpError('E_SESSION_BUSY');
    }
    const challenge = randomBytes(32).toString('hex');
    const expires = t + this.challengeTtlMs;
    this.challenges.set(challenge, { account, expires });
    return { challenge, expires };
  }

  /**
   * Take the challenge (once, whatever follows) and check `signature` over its sign bytes
   * with `key`; a token for `account` on success.
   */
  open(chainId: string, account: string, challenge: string, signatureHex: string, key: AccountKey): { token: string; expires: number } {
    if (!SESSION_CHALLENGE_PATTERN.test(challenge)) throw new HttpError('E_HTTP_BAD_BODY', 'challenge: must be the 64 hex digits the challenge call returned');
    const c = this.challenges.get(challenge);
    this.challenges.delete(challenge);
    const t = this.now();
    if (!c || c.expires <= t || c.account !== account) {
      throw new HttpError('E_SESSION_BAD_CHALLENGE', 'challenge: unknown, used, expired or issued for another account: ask for a new one');
    }
    let sig: Uint8Array;
    try {
      sig = fromHex(signatureHex, 'signature');
    } catch {
      throw new HttpError('E_HTTP_BAD_BODY', 'signature: must be hex (Ed25519: 64 bytes; ES256: 64 bytes r||s, IEEE P1363 as WebCrypto gives)');
    }
    if (!verifySignature(key.alg, key.publicKey, sessionSignBytes(chainId, account, challenge), sig)) {
      throw new HttpError('E_SESSION_BAD_SIGNATURE');
    }
    if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const token = `mls1_${randomBytes(32).toString('base64url')}`;
    const expires = t + this.sessionTtlMs;
    this.sessions.set(hashToken(token), { account, keyEpoch: key.keyEpoch, expires });
    return { token, expires };
  }

  /** The live session of `token`; undefined when unknown or expired (then forgotten). */
  lookup(token: string): Session | undefined {
    const h = hashToken(token);
    const s = this.sessions.get(h);
    if (s && s.expires <= this.now()) {
      this.sessions.delete(h);
      return undefined;
    }
    return s;
  }

  /** End a session (logout, or its key rotated). */
  end(token: string): void {
    this.sessions.delete(hashToken(token));
  }
}
