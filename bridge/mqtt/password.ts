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
 * writes also need, so a flood of CONNECTs must not starve the write-ahead. Past
 * MAX_WAITING queued checks a CONNECT is refused at once.
 */
const MAX_RUNNING = 1;
const MAX_WAITING = 1000;
let running = 0;
const waiting: (() => void)[] = [];

async function inSlot<T>(f: () => Promise<T>, whenFull: T): Promise<T> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) return whenFull;
    await new Promise<void>((r) => waiting.push(r));
  }
  running++;
  try {
    return await f();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Check a password against a stored hash, off the event loop, in constant time. */
export function verifyPassword(password: Buffer | string, stored: string): Promise<boolean> {
  const h = parseHash(stored);
  if (!h) return Promise.resolve(false);
  const text = typeof password === 'string' ? password : password.toString('utf8');
  const input = Buffer.from(text.normalize('NFC'), 'utf8');
  return inSlot(() => new Promise<boolean>((resolve) => {
    scrypt(input, h.salt, h.hash.length, { N: h.n, r: R, p: P, maxmem: maxmem(h.n) }, (err, key) => {
      resolve(!err && timingSafeEqual(key, h.hash));
    });
  }), false);
}
