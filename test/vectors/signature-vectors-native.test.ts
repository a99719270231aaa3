/**
 * Independent vectors through OpenSSL (ledger-node/crypto/native.ts nativeVerify: the
 * gateway's hot path, live votes, peer envelopes), through the verify workers' batch
 * function and a real pool. Expected answers: the vector's verdict, or
 * test/vectors/wycheproof/expected-disagreements.json, which also pins noble's answers
 * (test/vectors/signature-vectors.test.ts) and is checked to let the two differ
 * only on keys no path verifies with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { createPrivateKey } from 'node:crypto';
import { Alg, fromHex, toHex } from '../../protocols/index.js';
import { nativeSign, nativeVerify, publicKeyObject } from '../../ledger-node/crypto/native.js';
import { SignatureVerifier } from '../../ledger-node/crypto/verifier.js';
import verifyBatch from '../../ledger-node/crypto/verify-worker.js';
import {
  RFC8032, SPECCHECK, type SignatureCase, WYCHEPROOF_ED25519, disagreements, ed25519Cases, mismatches, p256Cases,
  rfc8032Vectors,
} from './signatures.js';

const list = disagreements();
const openssl = (c: SignatureCase): boolean => {
  try {
    return nativeVerify(c.alg, publicKeyObject(c.alg, c.publicKey), c.msg, c.sig);
  } catch {
    return false; // a key OpenSSL cannot import verifies nothing (as in the verify worker)
  }
};
const of = (file: string): SignatureCase[] => ed25519Cases().filter((c) => c.file === file);
const batchOf = (cases: readonly SignatureCase[]) => ({
  algs: cases.map((c) => c.alg), keys: cases.map((c) => c.publicKey), msgs: cases.map((c) => c.msg), sigs: cases.map((c) => c.sig),
});
const answersOf = (cases: readonly SignatureCase[]): Uint8Array => Uint8Array.from(cases, (c) => (openssl(c) ? 1 : 0));

test('Wycheproof ed25519_test.json: OpenSSL', () => {
  const cases = of(WYCHEPROOF_ED25519);
  assert.equal(cases.length, 151);
  assert.deepEqual(mismatches(list, 'openssl', cases, openssl), []);
});

test('Wycheproof ecdsa_secp256r1_sha256_p1363_test.json: OpenSSL, with the key uncompressed and compressed', () => {
  const cases = p256Cases();
  assert.equal(cases.length, 262);
  assert.deepEqual(mismatches(list, 'openssl', cases, openssl), []);
  const compressed = cases.map((c) => ({ ...c, publicKey: p256.Point.fromBytes(c.publicKey).toBytes(true) }));
  assert.deepEqual(mismatches(list, 'openssl', compressed, openssl), []);
});

test('RFC 8032 §7.1: OpenSSL reproduces each signature from the secret key and verifies it', () => {
  const b64u = (h: string): string => Buffer.from(h, 'hex').toString('base64url');
  for (const v of rfc8032Vectors()) {
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64u(v.secretKey), x: b64u(v.publicKey) }, format: 'jwk' });
    assert.equal(toHex(nativeSign(Alg.EdDSA, key, fromHex(v.message))), v.signature, v.name);
  }
  assert.deepEqual(mismatches(list, 'openssl', of(RFC8032), openssl), []);
});

test('ed25519-speccheck cases.json: OpenSSL', () => {
  const cases = of(SPECCHECK);
  assert.equal(cases.length, 12);
  assert.deepEqual(mismatches(list, 'openssl', cases, openssl), []);
});

test('the verify workers answer as nativeVerify on every vector: in-thread batch and a real pool', async () => {
  const cases = [...ed25519Cases(), ...p256Cases()];
  const want = answersOf(cases);
  assert.deepEqual(verifyBatch(batchOf(cases)), want);
  const pool = new SignatureVerifier(1);
  try {
    const got = await Promise.all(cases.map((c) => pool.verify(c.alg, c.publicKey, c.msg, c.sig)));
    assert.deepEqual(Uint8Array.from(got, (ok) => (ok ? 1 : 0)), want);
  } finally {
    await pool.close();
  }
});
