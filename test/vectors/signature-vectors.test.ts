/**
 * Independent vectors through noble (protocols/keys.ts verifySignature: browsers, receipt
 * checks, commit certificates). Every answer is the vector's verdict, or the one recorded
 * in test/vectors/wycheproof/expected-disagreements.json with its reason; the OpenSSL side
 * is test/vectors/signature-vectors-native.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { Alg, fromHex, publicKeyOf, publicKeyProblem, signMessage, signatureProblem, toHex, verifySignature } from '../../protocols/index.js';
import {
  RFC8032, SPECCHECK, type SignatureCase, WYCHEPROOF_ED25519, WYCHEPROOF_P256, disagreements, ed25519Cases, mismatches,
  p256Cases, rfc8032Vectors,
} from './signatures.js';

const list = disagreements();
const noble = (c: SignatureCase): boolean => verifySignature(c.alg, c.publicKey, c.msg, c.sig);
/** noble's own ed25519.verify with its defaults (ZIP 215 decoding), without our rules. */
const nobleLibrary = (c: SignatureCase): boolean => {
  try {
    return ed25519.verify(c.sig, c.msg, c.publicKey);
  } catch {
    return false;
  }
};
const of = (file: string): SignatureCase[] => ed25519Cases().filter((c) => c.file === file);

test('Wycheproof ed25519_test.json: noble', () => {
  const cases = of(WYCHEPROOF_ED25519);
  assert.equal(cases.length, 151);
  assert.deepEqual(mismatches(list, 'noble', cases, noble), []);
  // And what protocols/keys.ts's rules change: noble's defaults alone accept more.
  assert.deepEqual(mismatches(list, 'nobleLibrary', cases, nobleLibrary), []);
});

test('Wycheproof ecdsa_secp256r1_sha256_p1363_test.json: noble, with the key uncompressed and compressed', () => {
  const cases = p256Cases();
  assert.equal(cases.length, 262);
  assert.ok(cases.some((c) => c.verdict === 'valid') && cases.some((c) => c.verdict === 'invalid'));
  assert.deepEqual(mismatches(list, 'noble', cases, noble), []);
  const compressed = cases.map((c) => ({ ...c, publicKey: p256.Point.fromBytes(c.publicKey).toBytes(true) }));
  assert.equal(compressed[0]!.publicKey.length, 33);
  assert.deepEqual(mismatches(list, 'noble', compressed, noble), []);
});

test('RFC 8032 §7.1: noble derives each public key, reproduces each signature and verifies it', () => {
  const vectors = rfc8032Vectors();
  assert.deepEqual(vectors.map((v) => v.name), ['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
  for (const v of vectors) {
    const sk = fromHex(v.secretKey);
    assert.equal(toHex(publicKeyOf(Alg.EdDSA, sk)), v.publicKey, v.name);
    assert.equal(toHex(signMessage(Alg.EdDSA, sk, fromHex(v.message))), v.signature, v.name);
    assert.equal(publicKeyProblem(Alg.EdDSA, fromHex(v.publicKey)), undefined, v.name);
  }
  assert.equal(fromHex(vectors[3]!.message).length, 1023);
  assert.deepEqual(mismatches(list, 'noble', of(RFC8032), noble), []);
});

test('ed25519-speccheck cases.json: noble', () => {
  const cases = of(SPECCHECK);
  assert.equal(cases.length, 12);
  assert.deepEqual(mismatches(list, 'noble', cases, noble), []);
  assert.deepEqual(mismatches(list, 'nobleLibrary', cases, nobleLibrary), []);
});

test('the keys of the vectors: refused by publicKeyProblem exactly where the disagreements file says so', () => {
  for (const c of [...ed25519Cases(), ...p256Cases()]) {
    const listed = list.cases.find((d) => d.file === c.file && d.id === c.id);
    assert.equal(publicKeyProblem(c.alg, c.publicKey) !== undefined, listed?.keyRefused ?? false, c.label);
  }
});

/**
 * The consensus rule: what one gateway accepts every validator accepts. Each verifier is
 * held to the same expected answers (here for noble, in test/unit/ledger-node/ for
 * OpenSSL): the vector's verdict, or the listed answer. So they differ only where the list
 * says so, and the list may say so only where publicKeyProblem refuses the key (no path
 * verifies with it). A listed case must still differ from its verdict somewhere, so a
 * fixed one is noticed and taken off the list.
 */
test('expected-disagreements.json: noble and OpenSSL differ only on keys that cannot be registered; no entry is stale', () => {
  const all = [...ed25519Cases(), ...p256Cases()];
  assert.ok(list.cases.length > 0);
  for (const d of list.cases) {
    const c = all.find((x) => x.file === d.file && x.id === d.id);
    assert.ok(c, `listed case ${d.file} ${d.id} is not in the vectors`);
    assert.ok(d.reason.length > 20, `${c.label}: give the reason`);
    assert.equal(d.verdict, c.verdict, `${c.label}: the listed verdict is the vector's`);
    if (d.noble !== d.openssl) assert.ok(d.keyRefused, `${c.label}: noble ${d.noble}, OpenSSL ${d.openssl} on a key that can be registered`);
    if (c.verdict === 'valid' || c.verdict === 'invalid') {
      const want = c.verdict === 'valid';
      assert.ok([d.noble, d.openssl, d.nobleLibrary].some((a) => a !== undefined && a !== want), `${c.label} is listed, but every verifier agrees with the vector: take it off the list`);
    }
  }
});

const ED_L = 2n ** 252n + 27742317777372353535851937790883648493n; // RFC 8032 §5.1
const ED_P = 2n ** 255n - 19n;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const le32 = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const be32 = (n: bigint): Uint8Array => fromHex(n.toString(16).padStart(64, '0'));
const cat = (a: Uint8Array, b: Uint8Array): Uint8Array => Uint8Array.from([...a, ...b]);

test('signatureProblem: RFC 8032 §5.1.7 and §5.1.3 encodings of R and S; SEC1 §4.1.4 range of r and s', () => {
  const R = fromHex(rfc8032Vectors()[0]!.signature).subarray(0, 32);
  const S = fromHex(rfc8032Vectors()[0]!.signature).subarray(32);
  assert.equal(signatureProblem(Alg.EdDSA, cat(R, S)), undefined);
  assert.equal(signatureProblem(Alg.EdDSA, cat(R, le32(ED_L - 1n))), undefined);
  assert.match(signatureProblem(Alg.EdDSA, cat(R, le32(ED_L)))!, /S is not below L/);
  assert.match(signatureProblem(Alg.EdDSA, cat(R, le32(2n ** 256n - 1n)))!, /S is not below L/);
  // y = p .. 2^255 - 1 are not canonical, with either sign bit.
  for (const y of [ED_P, ED_P + 1n, 2n ** 255n - 1n]) {
    assert.match(signatureProblem(Alg.EdDSA, cat(le32(y), S))!, /y >= p/);
    assert.match(signatureProblem(Alg.EdDSA, cat(le32(y | (1n << 255n)), S))!, /y >= p/);
  }
  // x = 0 only for y = 1 (the identity) and y = p - 1; "-0" is not an encoding.
  for (const y of [1n, ED_P - 1n]) {
    assert.equal(signatureProblem(Alg.EdDSA, cat(le32(y), S)), undefined);
    assert.match(signatureProblem(Alg.EdDSA, cat(le32(y | (1n << 255n)), S))!, /x = 0/);
  }
  assert.match(signatureProblem(Alg.EdDSA, cat(R, S).subarray(1))!, /64 bytes/);

  const ok = be32(1n);
  assert.equal(signatureProblem(Alg.ES256, cat(ok, be32(P256_N - 1n))), undefined);
  assert.equal(signatureProblem(Alg.ES256, cat(be32(P256_N - 1n), ok)), undefined);
  for (const bad of [0n, P256_N, P256_N + 1n, 2n ** 256n - 1n]) {
    assert.match(signatureProblem(Alg.ES256, cat(be32(bad), ok))!, /out of range/);
    assert.match(signatureProblem(Alg.ES256, cat(ok, be32(bad)))!, /out of range/);
  }
  assert.match(signatureProblem(Alg.ES256, new Uint8Array(72))!, /64 bytes/);
});

test('signatureProblem leaves the signature as it was, a Buffer included (its slice() is a view)', () => {
  // R of the RFC 8032 TEST 2 signature has the sign bit set: the check masks it on a copy.
  const v = rfc8032Vectors()[1]!;
  const sig = Buffer.from(v.signature, 'hex');
  assert.equal(sig[31]! >> 7, 1);
  assert.equal(signatureProblem(Alg.EdDSA, sig), undefined);
  assert.equal(sig.toString('hex'), v.signature);
  assert.equal(verifySignature(Alg.EdDSA, fromHex(v.publicKey), fromHex(v.message), sig), true);
  assert.equal(sig.toString('hex'), v.signature);
});

test('publicKeyProblem: an Ed25519 key with a small-order component is refused (honest keys [a]B never have one)', () => {
  // A point of order 8; its multiples are the whole torsion subgroup (RFC 8032 §5.1).
  const T8 = ed25519.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  const torsion = Array.from({ length: 8 }, (_, i) => (i === 0 ? ed25519.Point.ZERO : T8.multiply(BigInt(i))));
  for (const v of rfc8032Vectors()) {
    const A = ed25519.Point.fromBytes(fromHex(v.publicKey));
    assert.equal(publicKeyProblem(Alg.EdDSA, A.toBytes()), undefined, v.name);
    for (const T of torsion.slice(1)) {
      assert.match(publicKeyProblem(Alg.EdDSA, A.add(T).toBytes())!, /prime-order subgroup/, v.name);
      assert.match(publicKeyProblem(Alg.EdDSA, T.toBytes())!, /small order/);
    }
  }
});
