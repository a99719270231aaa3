/**
 * Signature checks with Node's built-in crypto (OpenSSL): the gateway's hot path. The
 * same bytes, keys and answers as protocols/keys.ts (noble), which tests cross-check on
 * the Wycheproof, RFC 8032 and ed25519-speccheck vectors (test/vectors/).
 */
import { type KeyObject, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
// keys.js, not index.js: every verify worker loads this file, and needs none of the rest of protocols/
import { BoundedMap } from '../../protocols/bounded-map.js';
import { Alg, p256Uncompressed, signatureProblem } from '../../protocols/keys.js';

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/** A Node KeyObject for a raw public key (Ed25519 32 bytes; P-256 SEC1 33 or 65 bytes). */
export function publicKeyObject(alg: Alg, raw: Uint8Array): KeyObject {
  if (alg === Alg.EdDSA) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(raw) }, format: 'jwk' });
  const u = p256Uncompressed(raw);
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(u.subarray(1, 33)), y: b64u(u.subarray(33, 65)) }, format: 'jwk' });
}

/** Bounded cache of KeyObjects by (alg, key bytes): building one costs more than a verify. */
export class KeyObjectCache {
  private readonly map: BoundedMap<string, KeyObject>;
  constructor(max = 100_000) {
    this.map = new BoundedMap(max);
  }
  get(alg: Alg, raw: Uint8Array): KeyObject {
    const id = `${alg}:${Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex')}`;
    let k = this.map.get(id);
    if (!k) {
      k = publicKeyObject(alg, raw);
      this.map.set(id, k);
    }
    return k;
  }
}

/**
 * Verify with OpenSSL. ES256 signatures are r||s (RFC 9053 §2.1), hence ieee-p1363. The
 * encoding rules are protocols/keys.ts's, shared with noble (OpenSSL already refuses all
 * they refuse; checking them here keeps the rule in one place, not in OpenSSL's version).
 */
export function nativeVerify(alg: Alg, key: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (signatureProblem(alg, sig)) return false;
    if (alg === Alg.EdDSA) return nodeVerify(null, msg, key, sig);
    return nodeVerify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/** Sign with OpenSSL (simulators and the validator); output as protocols/keys.ts expects. */
export function nativeSign(alg: Alg, key: KeyObject, msg: Uint8Array): Uint8Array {
  if (alg === Alg.EdDSA) return new Uint8Array(nodeSign(null, msg, key));
  return new Uint8Array(nodeSign('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }));
}
