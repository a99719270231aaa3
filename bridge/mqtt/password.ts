/**
 * Passwords of local MQTT accounts: scrypt (RFC 7914) from node:crypto, stored as
 * `scrypt$<N>$<salt b64>$<hash b64>` with r = 8, p = 1.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** scrypt needs 128·N·r bytes; leave headroom over Node's 32 MiB default. */
const maxmem = (n: number): number => 256 * n * R;

export function hashPassword(password: string): string {
  const salt = randomBytes(SALT_BYTES);
  const hash = scryptSync(password.normalize('NFC'), salt, KEY_BYTES, { N, r: R, p: P, maxmem: maxmem(N) });
  return `scrypt$${N}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Parse a stored hash; undefined when it is not one hashPassword() could have made. */
function parseHash(stored: string): { n: number; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== 'scrypt' || !/^\d{1,8}$/.test(parts[1]!)) return undefined;
  const n = Number(parts[1]);
  // N must be a power of two; bound it so a bad config cannot exhaust memory.
  if (n < 1024 || n > 1 << 20 || (n & (n - 1)) !== 0) return undefined;
  const salt = Buffer.from(parts[2]!, 'base64');
  const hash = Buffer.from(parts[3]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { n, salt, hash };
}

export function isPasswordHash(stored: string): boolean {
  return parseHash(stored) !== undefined;
}

/**
 * One scrypt at a time: they run on libuv's small thread pool, which LevelDB's synced
 * writes also need, so a flood of CONNECTs must not starve the write-ahead. The queue is
 * served round-robin by source address, and one source may have at most
 * MAX_PER_SOURCE checks running or waiting: a flood from one address waits behind its
 * own checks, not in front of everyone else's. Past those bounds a check is refused at
 * once ('busy').
 */
const MAX_RUNNING = 1;
const MAX_WAITING = 1000;
const MAX_PER_SOURCE = 2;
let running = 0;
let waitingCount = 0;
/** Waiting checks by source; Map order is the round-robin order. */
const waiting = new Map<string, (() => void)[]>();
const pendingBySource = new Map<string, number>();

/** Wake the next source's first waiter, moving that source to the back; `served` (just done) goes behind the others. */
function handOver(served: string): boolean {
  const own = waiting.get(served);
  if (own) {
    waiting.delete(served);
    waiting.set(served, own);
  }
  const first = waiting.entries().next();
  if (first.done) return false;
  const [source, q] = first.value;
  const wake = q.shift()!;
  waiting.delete(source);
  if (q.length > 0) waiting.set(source, q);
  waitingCount--;
  wake();
  return true;
}

async function inSlot<T>(source: string, f: () => Promise<T>): Promise<T | 'busy'> {
  const mine = pendingBySource.get(source) ?? 0;
  if (mine >= MAX_PER_SOURCE || (running >= MAX_RUNNING && waitingCount >= MAX_WAITING)) return 'busy';
  pendingBySource.set(source, mine + 1);
  try {
    if (running < MAX_RUNNING) running++;
    else {
      waitingCount++;
      // The slot is handed over as it is: `running` stays counted for us.
      await new Promise<void>((r) => {
        const q = waiting.get(source);
        if (q) q.push(r);
        else waiting.set(source, [r]);
      });
    }
    try {
      return await f();
    } finally {
      if (!handOver(source)) running--;
    }
  } finally {
    const n = pendingBySource.get(source)! - 1;
    if (n > 0) pendingBySource.set(source, n);
    else pendingBySource.delete(source);
  }
}

export type PasswordCheck = 'ok' | 'wrong' | 'busy';

/**
 * Check a password against a stored hash, off the event loop, in constant time, queued
 * fairly among `source` addresses ('busy': not checked, the queue is full for it).
 */
export function verifyPassword(password: Buffer | string, stored: string, source = ''): Promise<PasswordCheck> {
  const h = parseHash(stored);
  if (!h) return Promise.resolve('wrong');
  const text = typeof password === 'string' ? password : password.toString('utf8');
  const input = Buffer.from(text.normalize('NFC'), 'utf8');
  return inSlot(source, () => new Promise<PasswordCheck>((resolve) => {
    scrypt(input, h.salt, h.hash.length, { N: h.n, r: R, p: P, maxmem: maxmem(h.n) }, (err, key) => {
      resolve(!err && timingSafeEqual(key, h.hash) ? 'ok' : 'wrong');
    });
  }));
}
