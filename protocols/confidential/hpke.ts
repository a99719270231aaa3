/**
 * HPKE (RFC 9180), base mode, single-shot (§6.1), for the two suites meterledger wraps
 * period keys with:
 *
 *   DHKEM(X25519, HKDF-SHA256) 0x0020 or DHKEM(P-256, HKDF-SHA256) 0x0010,
 *   HKDF-SHA256 0x0001, AES-128-GCM 0x0001.
 *
 * Written on noble's audited primitives (curves, hashes, ciphers) rather than taken from
 * an HPKE package: sealing is synchronous and deterministic given the ephemeral input
 * keying material (RFC 9180 §7.1.3 DeriveKeyPair), so vectors are reproducible and no
 * randomness hides inside; and the recipient's Diffie-Hellman is a callback, so a
 * browser's non-extractable WebCrypto key can open a wrapped key (see `subtleRecipient`).
 * Checked against RFC 9180 Appendix A.1.1 and A.3.1 (test/vectors/rfc9180/).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import { ReasonCode, RejectionError } from '../errors.js';

/** KEM ids (RFC 9180 §7.1, Table 2). */
export const Kem = { P256: 0x0010, X25519: 0x0020 } as const;
export type Kem = (typeof Kem)[keyof typeof Kem];
export const KemName = { [0x0010]: 'P-256', [0x0020]: 'X25519' } as const satisfies Record<Kem, string>;
export type KemName = (typeof KemName)[Kem];
/** KDF HKDF-SHA256 (Table 3) and AEAD AES-128-GCM (Table 5): the only ones used here. */
export const HPKE_KDF = 0x0001;
export const HPKE_AEAD = 0x0001;

const NK = 16; // AES-128-GCM key
const NN = 12; // nonce
const NH = 32; // SHA-256
/** Npk = Nenc: 65 (uncompressed SEC1 point) for P-256, 32 for X25519 (§7.1.1). */
export const KEM_PUBLIC_KEY_BYTES = { [0x0010]: 65, [0x0020]: 32 } as const satisfies Record<Kem, number>;

export function isKem(x: unknown): x is Kem {
  return x === Kem.P256 || x === Kem.X25519;
}

export function kemFromName(name: string): Kem {
  if (name === 'X25519') return Kem.X25519;
  if (name === 'P-256') return Kem.P256;
  throw new TypeError(`unknown KEM "${name}" (expected X25519 or P-256)`);
}

const i2osp = (n: number, w: number): Uint8Array => {
  const out = new Uint8Array(w);
  for (let i = w - 1; i >= 0; i--, n = Math.floor(n / 256)) out[i] = n & 0xff;
  return out;
};
const HPKE_V1 = utf8('HPKE-v1');
const EMPTY = new Uint8Array(0);
const kemSuiteId = (kem: Kem): Uint8Array => concatBytes(utf8('KEM'), i2osp(kem, 2)); // §4.1
const hpkeSuiteId = (kem: Kem): Uint8Array => concatBytes(utf8('HPKE'), i2osp(kem, 2), i2osp(HPKE_KDF, 2), i2osp(HPKE_AEAD, 2)); // §5.1

// RFC 9180 §4: LabeledExtract and LabeledExpand.
function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(sha256, concatBytes(HPKE_V1, suite, utf8(label), ikm), salt);
}
function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, L: number): Uint8Array {
  return expand(sha256, prk, concatBytes(i2osp(L, 2), HPKE_V1, suite, utf8(label), info), L);
}

const malformed = (msg: string, field: string): RejectionError => new RejectionError(ReasonCode.CONF_MALFORMED, msg, field);

/** Why `pk` is not a usable serialized public key of `kem` (§7.1.1, §7.1.4), or undefined. */
export function kemPublicKeyProblem(kem: Kem, pk: Uint8Array): string | undefined {
  if (kem === Kem.X25519) {
    if (pk.length !== 32) return 'an X25519 public key is 32 bytes';
    // RFC 7748 §6.1: a small-order point gives the all-zero shared secret for every key
    // (noble refuses it), so nobody could ever open what is wrapped to it.
    try {
      x25519.getSharedSecret(TEST_SCALAR, pk);
      return undefined;
    } catch {
      return 'X25519 public key has small order';
    }
  }
  if (pk.length !== 65 || pk[0] !== 0x04) return 'a P-256 public key is the 65-byte uncompressed SEC1 point (RFC 9180 §7.1.1)';
  return p256.utils.isValidPublicKey(pk, false) ? undefined : 'not a point on P-256';
}
const TEST_SCALAR = new Uint8Array(32).fill(7);

/** RFC 9180 §4.1 DH(sk, pk), with the §7.1.4 checks; sk is a serialized private key. */
function dh(kem: Kem, sk: Uint8Array, pk: Uint8Array): Uint8Array {
  const problem = kemPublicKeyProblem(kem, pk);
  if (problem) throw malformed(problem, 'publicKey');
  // X25519: noble refuses the all-zero output (§7.1.4). P-256: a valid point times a
  // scalar in [1, n-1] is never the point at infinity (prime order); x is the secret.
  return kem === Kem.X25519 ? x25519.getSharedSecret(sk, pk) : p256.getSharedSecret(sk, pk, true).subarray(1);
}

/** pk(sk), serialized (§7.1.1). */
export function kemPublicKey(kem: Kem, sk: Uint8Array): Uint8Array {
  return kem === Kem.X25519 ? x25519.getPublicKey(sk) : p256.getPublicKey(sk, false);
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** RFC 9180 §7.1.3 DeriveKeyPair(ikm): the key pair made from 32 bytes of input keying material. */
export function deriveKeyPair(kem: Kem, ikm: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  if (ikm.length < 32) throw new TypeError('DeriveKeyPair needs at least 32 bytes of ikm (RFC 9180 §7.1.3)');
  const suite = kemSuiteId(kem);
  const prk = labeledExtract(suite, EMPTY, 'dkp_prk', ikm);
  if (kem === Kem.X25519) {
    const sk = labeledExpand(suite, prk, 'sk', EMPTY, 32);
    return { secretKey: sk, publicKey: kemPublicKey(kem, sk) };
  }
  for (let counter = 0; counter < 256; counter++) {
    const sk = labeledExpand(suite, prk, 'candidate', i2osp(counter, 1), 32); // bitmask 0xff for P-256
    let n = 0n;
    for (const b of sk) n = (n << 8n) | BigInt(b);
    if (n !== 0n && n < P256_ORDER) return { secretKey: sk, publicKey: kemPublicKey(kem, sk) };
  }
  throw new Error('DeriveKeyPairError (RFC 9180 §7.1.3)'); // probability about 2^-8192
}

function extractAndExpand(kem: Kem, dhOut: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const suite = kemSuiteId(kem);
  const eaePrk = labeledExtract(suite, EMPTY, 'eae_prk', dhOut);
  return labeledExpand(suite, eaePrk, 'shared_secret', kemContext, NH);
}

/** What the base-mode key schedule (§5.1) makes; every value is in the RFC's vectors. */
export interface HpkeContext {
  readonly sharedSecret: Uint8Array;
  readonly keyScheduleContext: Uint8Array;
  readonly secret: Uint8Array;
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

/** RFC 9180 §5.1 KeySchedule(mode_base, shared_secret, info, "", ""). */
function keySchedule(kem: Kem, sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
  const suite = hpkeSuiteId(kem);
  const pskIdHash = labeledExtract(suite, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(suite, EMPTY, 'info_hash', info);
  const keyScheduleContext = concatBytes(Uint8Array.of(0x00), pskIdHash, infoHash);
  const secret = labeledExtract(suite, sharedSecret, 'secret', EMPTY);
  return {
    sharedSecret, keyScheduleContext, secret,
    key: labeledExpand(suite, secret, 'key', keyScheduleContext, NK),
    baseNonce: labeledExpand(suite, secret, 'base_nonce', keyScheduleContext, NN),
    exporterSecret: labeledExpand(suite, secret, 'exp', keyScheduleContext, NH),
  };
}

/** RFC 9180 §5.2 ComputeNonce(seq): base_nonce XOR I2OSP(seq, Nn). Single-shot uses seq 0. */
export function hpkeNonce(baseNonce: Uint8Array, seq: number): Uint8Array {
  const s = i2osp(seq, NN);
  return baseNonce.map((b, i) => b ^ s[i]!);
}

/**
 * RFC 9180 §5.1.1 SetupBaseS with Encap's ephemeral key made by DeriveKeyPair(ikmE):
 * the caller supplies ikmE (32 fresh random bytes; fixed bytes only in test vectors).
 */
export function setupBaseSender(kem: Kem, pkR: Uint8Array, info: Uint8Array, ikmE: Uint8Array): HpkeContext & { readonly enc: Uint8Array } {
  const { secretKey: skE, publicKey: enc } = deriveKeyPair(kem, ikmE);
  const shared = extractAndExpand(kem, dh(kem, skE, pkR), concatBytes(enc, pkR));
  return { enc, ...keySchedule(kem, shared, info) };
}

/**
 * A recipient's private key, as HPKE needs it: its serialized public key (pkRm, part of
 * the KEM context) and its Diffie-Hellman with an ephemeral public key. The DH may be
 * asynchronous, so a WebCrypto key that never leaves the browser can serve.
 */
export interface HpkeRecipient {
  readonly kem: Kem;
  readonly publicKey: Uint8Array;
  /** DH(skR, pkE) (§4.1): the X25519 output or the P-256 x-coordinate, 32 bytes. */
  dh(pkE: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** An HpkeRecipient from a raw 32-byte secret key (X25519 bytes, or the P-256 scalar). */
export function recipientFromSecretKey(kem: Kem, secretKey: Uint8Array): HpkeRecipient {
  const publicKey = kemPublicKey(kem, secretKey);
  return { kem, publicKey, dh: (pkE) => dh(kem, secretKey, pkE) };
}

/** The part of WebCrypto's SubtleCrypto that ECDH and X25519 deriveBits need. */
export interface SubtleDh {
  importKey(format: 'raw', keyData: Uint8Array, algorithm: { name: string; namedCurve?: string }, extractable: boolean, keyUsages: string[]): Promise<unknown>;
  deriveBits(algorithm: { name: string; public: unknown }, baseKey: unknown, length: number): Promise<ArrayBuffer>;
}

/**
 * An HpkeRecipient over a WebCrypto private key (ECDH P-256 or X25519, usage
 * "deriveBits", extractable or not). `subtle` is injected (globalThis.crypto.subtle in a
 * browser) so this file touches no global. WebCrypto's ECDH deriveBits is the x-coordinate,
 * as RFC 9180 §4.1 wants.
 */
export function subtleRecipient(subtle: SubtleDh, kem: Kem, privateKey: unknown, publicKey: Uint8Array): HpkeRecipient {
  const alg = kem === Kem.P256 ? { name: 'ECDH', namedCurve: 'P-256' } : { name: 'X25519' };
  return {
    kem, publicKey,
    async dh(pkE) {
      const problem = kemPublicKeyProblem(kem, pkE);
      if (problem) throw malformed(problem, 'enc');
      const pub = await subtle.importKey('raw', pkE, alg, true, []);
      const out = new Uint8Array(await subtle.deriveBits({ name: alg.name, public: pub }, privateKey, 256));
      if (out.every((b) => b === 0)) throw malformed('all-zero shared secret (RFC 9180 §7.1.4)', 'enc');
      return out;
    },
  };
}

/** RFC 9180 §5.1.1 SetupBaseR. */
export async function setupBaseRecipient(enc: Uint8Array, recipient: HpkeRecipient, info: Uint8Array): Promise<HpkeContext> {
  const kem = recipient.kem;
  const problem = kemPublicKeyProblem(kem, enc);
  if (problem) throw malformed(`enc: ${problem}`, 'enc');
  let dhOut: Uint8Array;
  try {
    dhOut = await recipient.dh(enc);
  } catch (cause) {
    if (cause instanceof RejectionError) throw cause;
    throw new RejectionError(ReasonCode.CONF_MALFORMED, `Diffie-Hellman with enc failed: ${(cause as Error).message}`, 'enc', { cause });
  }
  const shared = extractAndExpand(kem, dhOut, concatBytes(enc, recipient.publicKey));
  return keySchedule(kem, shared, info);
}

/** RFC 9180 §6.1 SealBase(pkR, info, aad, pt), the ephemeral key from DeriveKeyPair(ikmE). */
export function sealBase(kem: Kem, pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array, ikmE: Uint8Array): { enc: Uint8Array; ct: Uint8Array } {
  const ctx = setupBaseSender(kem, pkR, info, ikmE);
  return { enc: ctx.enc, ct: gcm(ctx.key, ctx.baseNonce, aad).encrypt(pt) };
}

/** RFC 9180 §6.1 OpenBase; an authentication failure is E_CONF_AUTH_FAILED. */
export async function openBase(enc: Uint8Array, recipient: HpkeRecipient, info: Uint8Array, aad: Uint8Array, ct: Uint8Array): Promise<Uint8Array> {
  const ctx = await setupBaseRecipient(enc, recipient, info);
  try {
    return gcm(ctx.key, ctx.baseNonce, aad).decrypt(ct);
  } catch (cause) {
    throw new RejectionError(ReasonCode.CONF_AUTH_FAILED, 'HPKE open failed: not wrapped to this key, or altered', 'ciphertext', { cause });
  }
}
