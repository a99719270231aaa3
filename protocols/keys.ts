/**
 * Signature algorithms a meter, an operator or a validator may use, with their COSE ids
 * (RFC 9053 §2.1 ES256, RFC 9053 §2.2 EdDSA) and public-key encodings:
 * Ed25519: the 32-byte key of RFC 8032 §5.1.5; ES256 (ECDSA P-256 with SHA-256): the SEC1
 * point, compressed (33 bytes) or uncompressed (65 bytes). ES256 signatures are r||s,
 * 64 bytes (RFC 9053 §2.1), not DER.
 *
 * Pure: verification with @noble/curves, so it runs in a browser. The gateway's hot path
 * verifies the same bytes with Node's OpenSSL instead (ledger-node/verify).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';

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

/** Check that `pk` is a well-formed public key for `alg`; returns a reason when not. */
export function publicKeyProblem(alg: Alg, pk: Uint8Array): string | undefined {
  if (alg === Alg.EdDSA) {
    if (pk.length !== 32) return 'Ed25519 public key must be 32 bytes';
    // A small-order key lets anyone forge signatures (R = identity, S = 0 verifies).
    try {
      return ed25519.Point.fromBytes(pk).isSmallOrder() ? 'Ed25519 public key has small order' : undefined;
    } catch {
      return 'not a point on Ed25519';
    }
  }
  if (pk.length !== 33 && pk.length !== 65) return 'P-256 public key must be a 33- or 65-byte SEC1 point';
  return p256.utils.isValidPublicKey(pk) ? undefined : 'not a point on P-256';
}

/** Verify `sig` over `msg` (the exact signed bytes). Never throws on bad input. */
export function verifySignature(alg: Alg, publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (alg === Alg.EdDSA) return sig.length === 64 && ed25519.verify(sig, msg, publicKey);
    // SEC1 ECDSA accepts high-S; so does OpenSSL, so we do too (secure elements emit either).
    return sig.length === 64 && p256.verify(sig, msg, publicKey, { lowS: false });
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
