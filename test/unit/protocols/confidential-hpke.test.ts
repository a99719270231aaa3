/**
 * protocols/confidential/hpke.ts against the published vectors of RFC 9180 Appendix A
 * (A.1.1 DHKEM(X25519) and A.3.1 DHKEM(P-256), both HKDF-SHA256 / AES-128-GCM, base
 * mode), transcribed in test/vectors/rfc9180/base-mode.json; then the checks of §7.1.4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcm } from '@noble/ciphers/aes.js';
import {
  Kem, ReasonCode, RejectionError, deriveKeyPair, fromHex, hpkeNonce, kemPublicKeyProblem, openBase,
  recipientFromSecretKey, sealBase, setupBaseRecipient, setupBaseSender, toHex,
} from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';
import type { Rfc9180File } from '../../vectors/types.js';

const rfc = readVector<Rfc9180File>('rfc9180/base-mode.json');
const h = (s: string): Uint8Array => fromHex(s);

test('the RFC 9180 file names its source and holds A.1.1 (X25519) and A.3.1 (P-256)', () => {
  assert.match(rfc.source, /RFC 9180.*Appendix A/);
  assert.deepEqual(rfc.vectors.map((v) => [v.section, v.kem_id, v.kdf_id, v.aead_id, v.mode]), [['A.1.1', 32, 1, 1, 0], ['A.3.1', 16, 1, 1, 0]]);
});

for (const v of rfc.vectors) {
  const kem = v.kem_id as Kem;
  test(`RFC 9180 ${v.section} §7.1.3 DeriveKeyPair gives skEm/pkEm and skRm/pkRm`, () => {
    const e = deriveKeyPair(kem, h(v.ikmE));
    const r = deriveKeyPair(kem, h(v.ikmR));
    assert.equal(toHex(e.secretKey), v.skEm);
    assert.equal(toHex(e.publicKey), v.pkEm);
    assert.equal(toHex(r.secretKey), v.skRm);
    assert.equal(toHex(r.publicKey), v.pkRm);
  });

  test(`RFC 9180 ${v.section} §5.1 SetupBaseS: enc, shared_secret, key schedule context, secret, key, base_nonce, exporter_secret`, () => {
    const c = setupBaseSender(kem, h(v.pkRm), h(v.info), h(v.ikmE));
    assert.equal(toHex(c.enc), v.enc);
    assert.equal(toHex(c.sharedSecret), v.shared_secret);
    assert.equal(toHex(c.keyScheduleContext), v.key_schedule_context);
    assert.equal(toHex(c.secret), v.secret);
    assert.equal(toHex(c.key), v.key);
    assert.equal(toHex(c.baseNonce), v.base_nonce);
    assert.equal(toHex(c.exporterSecret), v.exporter_secret);
  });

  test(`RFC 9180 ${v.section} §5.1 SetupBaseR from skRm derives the same context`, async () => {
    const c = await setupBaseRecipient(h(v.enc), recipientFromSecretKey(kem, h(v.skRm)), h(v.info));
    assert.equal(toHex(c.sharedSecret), v.shared_secret);
    assert.equal(toHex(c.key), v.key);
    assert.equal(toHex(c.baseNonce), v.base_nonce);
  });

  test(`RFC 9180 ${v.section} §5.2 encryptions: ComputeNonce and AES-128-GCM for every listed sequence number`, () => {
    const c = setupBaseSender(kem, h(v.pkRm), h(v.info), h(v.ikmE));
    assert.ok(v.encryptions.length >= 6);
    for (const e of v.encryptions) {
      const nonce = hpkeNonce(c.baseNonce, e.sequence_number);
      assert.equal(toHex(nonce), e.nonce, `seq ${e.sequence_number}`);
      assert.equal(toHex(gcm(c.key, nonce, h(e.aad)).encrypt(h(e.pt))), e.ct, `seq ${e.sequence_number}`);
    }
  });

  test(`RFC 9180 ${v.section} §6.1 single-shot SealBase is encryption 0, and OpenBase reverses it`, async () => {
    const e0 = v.encryptions[0]!;
    const { enc, ct } = sealBase(kem, h(v.pkRm), h(v.info), h(e0.aad), h(e0.pt), h(v.ikmE));
    assert.equal(toHex(enc), v.enc);
    assert.equal(toHex(ct), e0.ct);
    const pt = await openBase(h(v.enc), recipientFromSecretKey(kem, h(v.skRm)), h(v.info), h(e0.aad), h(e0.ct));
    assert.equal(toHex(pt), e0.pt);
  });

  test(`RFC 9180 ${v.section} OpenBase refuses a changed ct, aad, info or enc, and another recipient (E_CONF_AUTH_FAILED)`, async () => {
    const e0 = v.encryptions[0]!;
    const me = recipientFromSecretKey(kem, h(v.skRm));
    const other = recipientFromSecretKey(kem, deriveKeyPair(kem, new Uint8Array(32).fill(9)).secretKey);
    const flip = (s: string, i: number): Uint8Array => { const b = h(s); b[i]! ^= 1; return b; };
    const attempts: [string, () => Promise<unknown>][] = [
      ['ct', () => openBase(h(v.enc), me, h(v.info), h(e0.aad), flip(e0.ct, 0))],
      ['tag', () => openBase(h(v.enc), me, h(v.info), h(e0.aad), flip(e0.ct, h(e0.ct).length - 1))],
      ['aad', () => openBase(h(v.enc), me, h(v.info), flip(e0.aad, 0), h(e0.ct))],
      ['info', () => openBase(h(v.enc), me, flip(v.info, 0), h(e0.aad), h(e0.ct))],
      ['other recipient', () => openBase(h(v.enc), other, h(v.info), h(e0.aad), h(e0.ct))],
      ['another enc', () => openBase(deriveKeyPair(kem, new Uint8Array(32).fill(3)).publicKey, me, h(v.info), h(e0.aad), h(e0.ct))],
    ];
    for (const [what, f] of attempts) {
      await assert.rejects(f, (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_AUTH_FAILED, what);
    }
  });
}

test('RFC 9180 §7.1.4 / RFC 7748: small-order X25519 points are refused as keys and as enc (E_CONF_MALFORMED)', async () => {
  const zero = new Uint8Array(32);
  const one = Uint8Array.of(1, ...new Array(31).fill(0));
  for (const pk of [zero, one]) {
    assert.match(kemPublicKeyProblem(Kem.X25519, pk) ?? '', /small order/);
    assert.throws(() => sealBase(Kem.X25519, pk, new Uint8Array(0), new Uint8Array(0), new Uint8Array(1), new Uint8Array(32)),
      (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_MALFORMED);
    const me = recipientFromSecretKey(Kem.X25519, new Uint8Array(32).fill(5));
    await assert.rejects(openBase(pk, me, new Uint8Array(0), new Uint8Array(0), new Uint8Array(17)),
      (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_MALFORMED);
  }
});

test('RFC 9180 §7.1.1/§7.1.4: a P-256 key must be a 65-byte uncompressed point on the curve', () => {
  const pk = rfc.vectors[1]!.pkRm;
  assert.equal(kemPublicKeyProblem(Kem.P256, h(pk)), undefined);
  const compressed = `${(parseInt(pk.slice(128), 16) & 1) ? '03' : '02'}${pk.slice(2, 66)}`;
  assert.match(kemPublicKeyProblem(Kem.P256, h(compressed)) ?? '', /uncompressed/);
  const offCurve = h(pk);
  offCurve[64]! ^= 1;
  assert.match(kemPublicKeyProblem(Kem.P256, offCurve) ?? '', /not a point/);
});
