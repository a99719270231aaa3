/**
 * noble (protocols/keys.ts, browsers and receipt checkers) and Node/OpenSSL
 * (ledger-node/crypto/native.ts, the gateway's hot path) must agree on every signature a
 * meter can honestly make: each one verifies what the other signs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type KeyObject, createPrivateKey } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { Alg, concatBytes, p256Uncompressed, publicKeyOf, signMessage, utf8, verifySignature } from '../../../protocols/index.js';
import { KeyObjectCache, nativeSign, nativeVerify, publicKeyObject } from '../../../ledger-node/crypto/native.js';
import { highS, seed } from '../../vectors/generate.js';

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** A Node private KeyObject for the same raw 32-byte secret key noble uses. */
function nativePrivateKey(alg: Alg, sk: Uint8Array): KeyObject {
  if (alg === Alg.EdDSA) {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64u(sk), x: b64u(publicKeyOf(alg, sk)) }, format: 'jwk' });
  }
  const u = p256Uncompressed(publicKeyOf(alg, sk));
  return createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64u(sk), x: b64u(u.subarray(1, 33)), y: b64u(u.subarray(33)) }, format: 'jwk' });
}

const P256_HALF_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n / 2n;
const sOf = (sig: Uint8Array): bigint => BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);

for (const [alg, name] of [[Alg.EdDSA, 'RFC 8032 §5.1 Ed25519'], [Alg.ES256, 'RFC 9053 §2.1 ES256 (r||s)']] as const) {
  test(`${name}: a signature made by OpenSSL verifies with noble, and the reverse`, () => {
    const cache = new KeyObjectCache();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.string({ minLength: 1, maxLength: 12 }), (msg, label) => {
        const sk = seed(label);
        const priv = nativePrivateKey(alg, sk);
        const pk = publicKeyOf(alg, sk);
        const pub = cache.get(alg, pk);
        const byNode = nativeSign(alg, priv, msg);
        const byNoble = signMessage(alg, sk, msg);
        assert.equal(byNode.length, 64);
        assert.equal(verifySignature(alg, pk, msg, byNode), true, 'noble verifies OpenSSL');
        assert.equal(nativeVerify(alg, pub, msg, byNoble), true, 'OpenSSL verifies noble');
        if (alg === Alg.ES256) {
          // Either point form of the key gives the same answer on both sides.
          const u = p256Uncompressed(pk);
          assert.equal(verifySignature(alg, u, msg, byNode), true);
          assert.equal(nativeVerify(alg, publicKeyObject(alg, u), msg, byNoble), true);
        } else {
          assert.deepEqual(byNode, byNoble, 'Ed25519 is deterministic: both give the same bytes');
        }
      }),
      { numRuns: 60 },
    );
  });
}

test('SEC1 §4.1.4 ECDSA: high-S ES256 signatures are accepted by noble and by OpenSSL', () => {
  const cache = new KeyObjectCache();
  for (let i = 0; i < 20; i++) {
    const sk = seed(`high-s-${i}`);
    const pk = publicKeyOf(Alg.ES256, sk);
    const msg = utf8(`message ${i}`);
    const low = signMessage(Alg.ES256, sk, msg);
    assert.ok(sOf(low) <= P256_HALF_N, 'noble signs low-S');
    const high = highS(low);
    assert.ok(sOf(high) > P256_HALF_N);
    assert.equal(verifySignature(Alg.ES256, pk, msg, high), true, 'noble accepts high-S');
    assert.equal(nativeVerify(Alg.ES256, cache.get(Alg.ES256, pk), msg, high), true, 'OpenSSL accepts high-S');
    // And a high-S signature made by OpenSSL itself (it does not normalize s).
    const byNode = nativeSign(Alg.ES256, nativePrivateKey(Alg.ES256, sk), msg);
    const flipped = sOf(byNode) > P256_HALF_N ? byNode : highS(byNode);
    assert.equal(verifySignature(Alg.ES256, pk, msg, flipped), true);
  }
});

test('both verifiers refuse a wrong key, a wrong message and a wrong length', () => {
  for (const alg of [Alg.EdDSA, Alg.ES256]) {
    const sk = seed('refuse');
    const pk = publicKeyOf(alg, sk);
    const otherPk = publicKeyOf(alg, seed('refuse-other'));
    const msg = utf8('m');
    const sig = signMessage(alg, sk, msg);
    assert.equal(verifySignature(alg, otherPk, msg, sig), false);
    assert.equal(nativeVerify(alg, publicKeyObject(alg, otherPk), msg, sig), false);
    assert.equal(verifySignature(alg, pk, utf8('n'), sig), false);
    assert.equal(nativeVerify(alg, publicKeyObject(alg, pk), utf8('n'), sig), false);
    for (const bad of [sig.subarray(0, 63), concatBytes(sig, Uint8Array.of(0)), new Uint8Array(64)]) {
      assert.equal(verifySignature(alg, pk, msg, bad), false);
      assert.equal(nativeVerify(alg, publicKeyObject(alg, pk), msg, bad), false);
    }
  }
});

/**
 * RFC 8032 §5.1.7 allows either the cofactored check [8][S]B = [8]R + [8][k]A or the
 * cofactorless [S]B = R + [k]A. noble checks the first, OpenSSL the second, so a signature
 * whose R carries a small-order component (only the key holder can make one) split them:
 * noble's verify alone accepts it, OpenSSL refuses it. protocols/keys.ts refuses such an R
 * so that both verifiers give one answer (docs/protocol.md §3.4); so do malleated
 * encodings of R and S, on either side.
 */
test('RFC 8032 §5.1.7: an R with a small-order component, a non-canonical R or S + L are refused by noble and OpenSSL alike', () => {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const le = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const toLe = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const sk = seed('meter-ed-0001');
  const { scalar: a, pointBytes: A } = ed25519.utils.getExtendedPublicKey(sk);
  const key = publicKeyObject(Alg.EdDSA, A);
  // A point of order 8 (RFC 8032 §5.1: the torsion subgroup of edwards25519); its multiples are all 8.
  const T8 = ed25519.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  assert.ok(T8.isSmallOrder() && !T8.is0());
  /** What the key holder can sign with nonce point [r]B + T, hashing R as sent. */
  const signWithR = (R: Uint8Array, r: bigint, msg: Uint8Array): Uint8Array => {
    const k = le(sha512(concatBytes(R, A, msg))) % L;
    return concatBytes(R, toLe((r + k * a) % L));
  };
  const r = 123456789n;
  for (let i = 0; i < 8; i++) {
    const T = i === 0 ? ed25519.Point.ZERO : T8.multiply(BigInt(i));
    const R = ed25519.Point.BASE.multiply(r).add(T).toBytes();
    const msg = utf8(`mixed-order R ${i}`);
    const sig = signWithR(R, r, msg);
    const honest = i === 0;
    assert.equal(ed25519.verify(sig, msg, A), true, `noble's verify alone (cofactored) accepts, T = ${i}·T8`);
    assert.equal(verifySignature(Alg.EdDSA, A, msg, sig), honest, `protocols/keys.ts, T = ${i}·T8`);
    assert.equal(nativeVerify(Alg.EdDSA, key, msg, sig), honest, `OpenSSL (cofactorless), T = ${i}·T8`);
  }
  // S + L: the same signature with S out of range (RFC 8032 §5.1.7 step 1).
  const msg = utf8('S + L');
  const good = signMessage(Alg.EdDSA, sk, msg);
  const big = concatBytes(good.subarray(0, 32), toLe(le(good.subarray(32)) + L));
  assert.equal(verifySignature(Alg.EdDSA, A, msg, big), false);
  assert.equal(nativeVerify(Alg.EdDSA, key, msg, big), false);
  // The identity as R, encoded as y = 1 (canonical) and with the sign bit set ("-0",
  // Wycheproof ed25519 tcId 151): a key holder can sign with r = 0.
  const id = toLe(1n);
  const minusZero = toLe(1n | (1n << 255n));
  assert.equal(verifySignature(Alg.EdDSA, A, msg, signWithR(id, 0n, msg)), true);
  assert.equal(nativeVerify(Alg.EdDSA, key, msg, signWithR(id, 0n, msg)), true);
  const bad = signWithR(minusZero, 0n, msg);
  assert.equal(ed25519.verify(bad, msg, A), true, "noble's verify alone (ZIP 215 decoding) accepts -0");
  assert.equal(verifySignature(Alg.EdDSA, A, msg, bad), false);
  assert.equal(nativeVerify(Alg.EdDSA, key, msg, bad), false);
});
