/**
 * Enrolment (docs/http-api.md §Enrolment, docs/portal.md): the operator makes a one-time
 * code for an account; the owner's browser sends it with a public key it made, and the
 * gateway, holding the registrar's key, rotates the account key to it (AccountRotate,
 * docs/billing.md §13) and answers once that is committed.
 *
 * Codes are 128 random bits, shown once and kept only as their SHA-256 in
 * <dataDir>/enrolment-codes.json (mode 0600, replaced atomically), with an expiry and a
 * try limit: an account has at most one live code; a wrong code counts a try, and after
 * `maxTries` wrong ones the code is locked (the operator makes a new one). A code is
 * spent by its first right use, before the rotation is submitted, so two browsers never
 * both enrol with it; a rotation the ledger refuses gives the code back.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Alg, type AccountRecord, type Genesis, LedgerTxType, StateKind, canonicalPublicKey, decodeKey, operatorRoles, publicKeyProblem, sha256, signTx, toHex,
} from '../../protocols/index.js';
import type { LedgerApi } from '../../ledger-node/api.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';
import { GatewayError } from '../errors.js';
import { HttpError } from './errors.js';

export const ENROL_CODES_FILE = 'enrolment-codes.json';
export const DEFAULT_CODE_TTL_MS = 7 * 24 * 3600_000;
export const DEFAULT_MAX_TRIES = 5;
/** Codes kept at most (live, used or locked); the oldest go first. */
export const MAX_CODES = 10_000;
/** How long the rotation may take to commit before the answer is E_ENROL_TIMEOUT. */
export const COMMIT_TIMEOUT_MS = 30_000;

interface CodeEntry {
  /** SHA-256 (hex) of the normalised code. */
  readonly hash: string;
  readonly created: number;
  readonly expires: number;
  readonly maxTries: number;
  tries: number;
  used: boolean;
}

// Crockford's base32: no I, L, O, U, so a code read aloud or copied by hand survives.
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let v = 0;
  let s = '';
  for (const b of bytes) {
    v = (v << 8) | b;
    bits += 8;
    while (bits >= 5) {
      s += B32[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) s += B32[(v << (5 - bits)) & 31];
  return s;
}

/** A code as typed: case, spaces and dashes do not matter; O/I/L read as 0/1/1. */
export function normaliseCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

const hashCode = (code: string): string => createHash('sha256').update(normaliseCode(code), 'utf8').digest('hex');

export interface CodeOptions {
  readonly ttlMs?: number;
  readonly maxTries?: number;
}

/** The codes of one gateway, in its data dir. */
export class EnrolmentCodes {
  private readonly file: string;
  private readonly codes: Map<string, CodeEntry>;
  private readonly now: () => number;

  constructor(dataDir: string, now: () => number = Date.now) {
    this.file = join(dataDir, ENROL_CODES_FILE);
    this.now = now;
    this.codes = new Map(Object.entries(this.load()));
  }

  private load(): Record<string, CodeEntry> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    let o: { codes?: Record<string, CodeEntry> };
    try {
      o = JSON.parse(text) as typeof o;
    } catch {
      throw new GatewayError('E_ENROL_CODES_CORRUPT', `${this.file} is not JSON: remove it (every enrolment code in it is lost; make new ones)`);
    }
    const codes = o.codes ?? {};
    for (const [account, e] of Object.entries(codes)) {
      if (typeof e?.hash !== 'string' || !/^[0-9a-f]{64}$/.test(e.hash) || typeof e.expires !== 'number' || typeof e.tries !== 'number' || typeof e.maxTries !== 'number') {
        throw new GatewayError('E_ENROL_CODES_CORRUPT', `${this.file}: the entry of account "${account}" is malformed: remove the file (make new codes)`);
      }
    }
    return codes;
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, codes: Object.fromEntries(this.codes) }, null, 1) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  /** A new code for `account`, replacing any it had; the code itself is returned once and kept only hashed. */
  create(account: string, opts: CodeOptions = {}): { code: string; expires: number; maxTries: number } {
    const t = this.now();
    const raw = base32(randomBytes(16));
    const code = raw.match(/.{1,4}/g)!.join('-');
    const entry: CodeEntry = { hash: hashCode(code), created: t, expires: t + (opts.ttlMs ?? DEFAULT_CODE_TTL_MS), maxTries: opts.maxTries ?? DEFAULT_MAX_TRIES, tries: 0, used: false };
    this.codes.delete(account);
    while (this.codes.size >= MAX_CODES) this.codes.delete(this.codes.keys().next().value!);
    this.codes.set(account, entry);
    this.save();
    return { code, expires: entry.expires, maxTries: entry.maxTries };
  }

  /**
   * Spend `code` for `account`, or throw E_ENROL_BAD_CODE (none, wrong or used),
   * E_ENROL_EXPIRED or E_ENROL_LOCKED. A wrong code counts a try.
   */
  take(account: string, code: string): void {
    const e = this.codes.get(account);
    if (!e) throw new HttpError('E_ENROL_BAD_CODE', `no enrolment code for account "${account}": ask your utility for one`);
    if (e.tries >= e.maxTries) throw new HttpError('E_ENROL_LOCKED');
    if (e.used) throw new HttpError('E_ENROL_BAD_CODE', 'this enrolment code was used already: ask your utility for a new one');
    if (e.expires <= this.now()) throw new HttpError('E_ENROL_EXPIRED');
    const ok = timingSafeEqual(Buffer.from(hashCode(code), 'hex'), Buffer.from(e.hash, 'hex'));
    if (!ok) {
      e.tries++;
      this.save();
      if (e.tries >= e.maxTries) throw new HttpError('E_ENROL_LOCKED');
      throw new HttpError('E_ENROL_BAD_CODE', `wrong enrolment code (${e.maxTries - e.tries} tries left)`);
    }
    e.used = true;
    this.save();
  }

  /** Give a spent code back (the rotation it paid for was refused). */
  giveBack(account: string): void {
    const e = this.codes.get(account);
    if (e?.used) {
      e.used = false;
      this.save();
    }
  }
}

/** What binds a browser's key to an account: the registrar's rotation, committed. */
export interface AccountKeyBinder {
  /** True when `account` need not exist: its first binding opens it (the dev chain's owner account). */
  opens?(account: string): boolean;
  bind(account: string, alg: Alg, publicKey: Uint8Array): Promise<{ keyEpoch: number; txHash: string; height: number }>;
}

/** What the enrolment routes use; absent from the HTTP context, they answer E_ENROL_DISABLED. */
export interface Enrolment {
  readonly codes: EnrolmentCodes;
  /** Absent when this gateway holds no registrar key. */
  readonly binder?: AccountKeyBinder;
}

/** The id of the genesis operator with the registrar role whose key `key` is; undefined when none. */
export function registrarIdOf(genesis: Genesis, key: KeyPair): string | undefined {
  const mine = toHex(key.publicKey);
  for (const o of genesis.operators) {
    const k = decodeKey(o);
    if (k.alg === key.alg && toHex(k.publicKey) === mine && operatorRoles(o).includes('registrar')) return o.id;
  }
  return undefined;
}

/**
 * The registrar's binder: signs AccountRotate (keyEpoch = current + 1) with `key` as
 * operator `registrarId`, submits it to `node` and waits for its receipt. One rotation
 * at a time, so two enrolments never race for the same epoch.
 */
export function registrarBinder(node: LedgerApi, registrarId: string, key: KeyPair, opts: { timeoutMs?: number; pollMs?: number; openable?: string } = {}): AccountKeyBinder {
  let queue: Promise<unknown> = Promise.resolve();
  const timeoutMs = opts.timeoutMs ?? COMMIT_TIMEOUT_MS;
  const pollMs = opts.pollMs ?? 100;
  const once = async (account: string, alg: Alg, publicKey: Uint8Array): Promise<{ keyEpoch: number; txHash: string; height: number }> => {
    const a = node.record(StateKind.Account, account) as AccountRecord | undefined;
    if (!a && account !== opts.openable) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${account}"`);
    // The openable account's first binding opens it with the browser's key (key epoch 0).
    const keyEpoch = a ? a.keyEpoch + 1 : 0;
    const body = a
      ? { type: LedgerTxType.AccountRotate, time: Date.now(), account, alg, publicKey, keyEpoch } as const
      : { type: LedgerTxType.AccountOpen, time: Date.now(), account, alg, publicKey } as const;
    const tx = signTx(node.genesis.chainId, key.alg, key.secretKey, body, registrarId);
    const r = await node.submitTx(tx);
    if (r.status !== 'accepted') throw new HttpError('E_ENROL_REFUSED', `the ledger refused the key rotation: ${r.code} ${r.message}`);
    const hash = sha256(tx);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const receipt = await node.getTxReceipt(hash);
      if (receipt) return { keyEpoch, txHash: toHex(hash), height: receipt.header.height };
      if (Date.now() >= until) throw new HttpError('E_ENROL_TIMEOUT', `the key ${a ? 'rotation' : 'binding'} ${toHex(hash)} was accepted but not committed within ${timeoutMs / 1000} s; it may still commit: try signing in shortly`);
      await new Promise((res) => setTimeout(res, pollMs));
    }
  };
  return {
    opens: (account) => opts.openable !== undefined && account === opts.openable,
    bind(account, alg, publicKey) {
      const p = queue.then(() => once(account, alg, publicKey));
      queue = p.catch(() => undefined);
      return p;
    },
  };
}

/** A browser's public key: ES256 as SEC1 (65 bytes uncompressed from WebCrypto's raw export, or 33 compressed), hex. */
export function enrolKey(hex: string): { alg: Alg; publicKey: Uint8Array } {
  if (!/^(?:[0-9a-fA-F]{2}){33}$|^(?:[0-9a-fA-F]{2}){65}$/.test(hex)) {
    throw new HttpError('E_ENROL_BAD_KEY', 'publicKey: must be a P-256 point in SEC1 form as hex (65 bytes from WebCrypto exportKey("raw"), or 33 compressed)');
  }
  const publicKey = new Uint8Array(Buffer.from(hex, 'hex'));
  const why = publicKeyProblem(Alg.ES256, publicKey);
  if (why) throw new HttpError('E_ENROL_BAD_KEY', `publicKey: ${why}`);
  return { alg: Alg.ES256, publicKey: canonicalPublicKey(Alg.ES256, publicKey) };
}
