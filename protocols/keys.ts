/**
 * Signature algorithms a meter, an operator or a validator may use, with their COSE ids
 * (RFC 9053 §2.1 ES256, RFC 9053 §2.2 EdDSA) and public-key encodings:
 * Ed25519: the 32-byte key of RFC 8032 §5.1.5; ES256 (ECDSA P-256 with SHA-256): the SEC1
 * point, compressed (33 bytes) or uncompressed (65 bytes). ES256 signatures are r||s,
 * 64 bytes (RFC 9053 §2.1), not DER.
 *
 * Pure: verification with @noble/curves, so it runs in a browser. The gateway's hot path
 * verifies the same bytes with Node's OpenSSL instead (ledger-node/crypto/native.ts). Both
 * must accept exactly the same signatures, or one node could accept a block another refuses:
 * the rules below close the gaps between the two (docs/protocol.md §3.4), and the
 * Wycheproof, RFC 8032 and ed25519-speccheck vectors in test/vectors/ check that they do.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { numberToBytesBE, numberToBytesLE } from '@noble/curves/utils.js';

export const Alg = {
  EdDSA: -8,
  ES256: -7,
} as const;
export type Alg = (typeof Alg)[keyof typeof Alg];

export const AlgName = { [-8]: 'Ed25519', [-7]: 'ES256' } as const satisfies Record<Alg, string>;
export type AlgName = (typeof AlgName)[Alg];

export function algFromName(name: string): Alg {
  if (name === 'Ed25519' || name === 'EdDSA') return Alg.EdDSA;
  if (name === 'ES256' || name === 'P-256') return Alg.ES256;
  throw new TypeError(`unknown algorithm "${name}" (expected Ed25519 or ES256)`);
}

export function isAlg(x: unknown): x is Alg {
  return x === Alg.EdDSA || x === Alg.ES256;
}

/**
 * Check that `pk` is a well-formed public key for `alg`; returns a reason when not. Every
 * key a verifier sees passes here first (genesis, meter.register, meter.rotate, peers).
 */
export function publicKeyProblem(alg: Alg, pk: Uint8Array): string | undefined {
  if (alg === Alg.EdDSA) {
    if (pk.length !== 32) return 'Ed25519 public key must be 32 bytes';
    let A: InstanceType<typeof ed25519.Point>;
    try {
      A = ed25519.Point.fromBytes(pk); // RFC 8032 §5.1.3: canonical encodings only
    } catch {
      return 'not a canonical encoding of a point on Ed25519';
    }
    // A small-order key lets anyone forge signatures (R = identity, S = 0 verifies).
    if (A.isSmallOrder()) return 'Ed25519 public key has small order';
    // A key with a small-order component splits cofactored from cofactorless verifiers
    // (RFC 8032 §5.1.7 allows both); an honest key, [a]B, never has one.
    if (!A.isTorsionFree()) return 'Ed25519 public key is not in the prime-order subgroup';
    return undefined;
  }
  if (pk.length !== 33 && pk.length !== 65) return 'P-256 public key must be a 33- or 65-byte SEC1 point';
  return p256.utils.isValidPublicKey(pk) ? undefined : 'not a point on P-256';
}

/**
 * The one encoding of a valid public key, to tell whether two entries hold the same key:
 * Ed25519 as it is; a P-256 point as compressed SEC1 (it also has an uncompressed form).
 */
export function canonicalPublicKey(alg: Alg, pk: Uint8Array): Uint8Array {
  return alg === Alg.EdDSA ? pk : p256.Point.fromBytes(pk).toBytes(true);
}

// Bounds as bytes in each encoding's own order, so the check on the hot path is a few
// byte comparisons rather than bigint arithmetic.
const ED_P = ed25519.Point.Fp.ORDER; // 2^255 - 19
const ED_L_LE = numberToBytesLE(ed25519.Point.Fn.ORDER, 32); // RFC 8032 §5.1: order of B
const ED_P_LE = numberToBytesLE(ED_P, 32);
const ED_ONE_LE = numberToBytesLE(1n, 32);
const ED_P1_LE = numberToBytesLE(ED_P - 1n, 32);
const P256_N_BE = numberToBytesBE(p256.Point.Fn.ORDER, 32);

/** Compare two unsigned integers of the same byte length: -1, 0 or 1. */
function compare(a: Uint8Array, b: Uint8Array, littleEndian: boolean): number {
  for (let j = 0; j < a.length; j++) {
    const i = littleEndian ? a.length - 1 - j : j;
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}
const isZero = (a: Uint8Array): boolean => a.every((x) => x === 0);

/**
 * The encoding rules of a signature, checked before either verifier runs (both
 * verifySignature and ledger-node's nativeVerify call this), so that what is refused for
 * its form does not depend on a library's defaults. Returns a reason when `sig` breaks one.
 * - Ed25519: 64 bytes R‖S; S < L (RFC 8032 §5.1.7 step 1); R a canonical point encoding:
 *   y < p (§5.1.3 step 1) and not x = 0 with the sign bit set (§5.1.3 step 4; x = 0 only
 *   for y = 1 and y = p − 1). ZIP 215 decoders accept both; OpenSSL never does.
 * - ES256: 64 bytes r‖s (RFC 9053 §2.1), 0 < r < n and 0 < s < n (SEC1 §4.1.4 step 1).
 *   High-S is allowed: SEC1 does not forbid it and secure elements emit it.
 */
export function signatureProblem(alg: Alg, sig: Uint8Array): string | undefined {
  if (sig.length !== 64) return 'signature must be 64 bytes';
  if (alg === Alg.EdDSA) {
    if (compare(sig.subarray(32), ED_L_LE, true) >= 0) return 'Ed25519 S is not below L';
    const y = new Uint8Array(sig.subarray(0, 32)); // a copy: a Buffer's slice() is a view
    const sign = y[31]! >> 7;
    y[31]! &= 0x7f;
    if (compare(y, ED_P_LE, true) >= 0) return 'Ed25519 R is not canonical (y >= p)';
    if (sign === 1 && (compare(y, ED_ONE_LE, true) === 0 || compare(y, ED_P1_LE, true) === 0)) {
      return 'Ed25519 R is not canonical (x = 0 with the sign bit set)';
    }
    return undefined;
  }
  const r = sig.subarray(0, 32);
  const s = sig.subarray(32);
  if (isZero(r) || isZero(s) || compare(r, P256_N_BE, false) >= 0 || compare(s, P256_N_BE, false) >= 0) return 'ES256 r or s is out of range';
  return undefined;
}

/**
 * Verify `sig` over `msg` (the exact signed bytes) with a key that passed
 * publicKeyProblem. Never throws on bad input.
 */
export function verifySignature(alg: Alg, publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (signatureProblem(alg, sig)) return false;
    if (alg === Alg.EdDSA) {
      // noble checks the cofactored equation [8][S]B = [8]R + [8][k]A, OpenSSL the
      // cofactorless [S]B = R + [k]A (RFC 8032 §5.1.7 allows either). With A in the
      // prime-order subgroup (publicKeyProblem) they differ exactly when R has a
      // small-order component, so such an R is refused: both then accept the same set.
      // zip215: false is RFC 8032's strict decoding (noble's ed25519 default is ZIP 215).
      return ed25519.verify(sig, msg, publicKey, { zip215: false })
        && ed25519.Point.fromBytes(sig.subarray(0, 32)).isTorsionFree();
    }
    // SEC1 ECDSA accepts high-S; so does OpenSSL, so we do too (secure elements emit either).
    return p256.verify(sig, msg, publicKey, { lowS: false });
  } catch {
    return false;
  }
}

/** Sign `msg` with a raw secret key (32 bytes for both curves). For simulators and tests. */
export function signMessage(alg: Alg, secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
  if (alg === Alg.EdDSA) return ed25519.sign(msg, secretKey);
  return p256.sign(msg, secretKey, { lowS: true });
}

export function publicKeyOf(alg: Alg, secretKey: Uint8Array): Uint8Array {
  return alg === Alg.EdDSA ? ed25519.getPublicKey(secretKey) : p256.getPublicKey(secretKey, true);
}

/** Uncompressed SEC1 form of a P-256 key (what JWK and SPKI-based APIs want). */
export function p256Uncompressed(pk: Uint8Array): Uint8Array {
  return pk.length === 65 ? pk : p256.Point.fromBytes(pk).toBytes(false);
}

export function randomSecretKey(alg: Alg): Uint8Array {
  return alg === Alg.EdDSA ? ed25519.utils.randomSecretKey() : p256.utils.randomSecretKey();
}
