/**
 * test/vectors/confidential.json (docs/protocol.md §11): each structure field by field
 * through protocols/, every invalid case with its code, and then a second decrypt path
 * that shares no code with protocols/: node:crypto (OpenSSL) for X25519, P-256 ECDH,
 * HMAC/HKDF and AES-GCM, and test/helpers/mini-cbor.ts instead of cborg. It opens the
 * period key as each recipient and decrypts every reading from the vectors' bytes alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, createHmac, createPrivateKey, createPublicKey, diffieHellman, verify } from 'node:crypto';
import {
  Kem, ReasonCode, RejectionError, checkNonceReuse, checkPeriodKeyRecipients, contentKeyOf, decodeDisclosure,
  decodePeriodKeyTx, decodeSealedReadingTx, decodeTx, decryptReading, fromHex, openPeriodKey, periodKeySchedule,
  recipientFromSecretKey, toHex, verifyDisclosure, billDisclosuresFromCbor, decodeCbor, openBillDisclosures,
} from '../../protocols/index.js';
import { readVector } from './generate.js';
import type { ConfidentialFile, ConfidentialInvalidVector } from './types.js';
import { type MiniValue, mapGet, miniDecode, miniEncode } from '../helpers/mini-cbor.js';

const v = readVector<ConfidentialFile>('confidential.json');
const h = fromHex;
const B = (x: Uint8Array | string): Buffer => Buffer.from(typeof x === 'string' ? h(x) : x);

test('confidential vectors: the period key, its PRK and id, three recipients of both KEMs', () => {
  const s = periodKeySchedule(h(v.periodKey), v.meter.id, v.period);
  assert.equal(toHex(s.prk), v.prk);
  assert.equal(toHex(s.keyId), v.keyId);
  assert.deepEqual(v.recipients.map((r) => r.kem).sort(), ['P-256', 'X25519', 'X25519']);
  assert.ok(v.readings.length >= 5 && v.invalid.length >= 15);
});

test('confidential vectors: the period key transaction decodes, lists the registered recipients, and opens for each', async () => {
  const d = decodePeriodKeyTx(h(v.periodKeyTx.tx));
  assert.equal(toHex(d.hash), v.periodKeyTx.txHash);
  assert.equal(toHex(d.cose.payload), v.periodKeyTx.payload);
  checkPeriodKeyRecipients(d.body, v.recipients.map((r) => ({ id: r.id, kem: r.kemId as Kem, publicKey: h(r.publicKey) })));
  for (const r of v.recipients) {
    const s = await openPeriodKey(v.chainId, d.body, r.id, recipientFromSecretKey(r.kemId as Kem, h(r.secretKey)));
    assert.equal(toHex(s.keyId), v.keyId, r.id);
  }
});

test('confidential vectors: each sealed reading decodes without a key and decrypts with the period key to its listed values', () => {
  const s = periodKeySchedule(h(v.periodKey), v.meter.id, v.period);
  for (const c of v.readings) {
    const d = decodeSealedReadingTx(h(c.tx));
    assert.equal(toHex(d.hash), c.txHash, c.name);
    assert.equal(toHex(d.cose.payload), c.payload, c.name);
    assert.equal(toHex(d.body.sealed.protectedBytes), c.protectedHeader, c.name);
    assert.equal(toHex(d.body.sealed.iv), c.iv, c.name);
    assert.equal(toHex(d.body.sealed.ciphertext), c.ciphertext, c.name);
    assert.equal(toHex(contentKeyOf(s, d.body.seq, d.body.time)), c.contentKey, c.name);
    const r = decryptReading(v.chainId, s, d.body);
    assert.deepEqual({ meterId: r.meterId, seq: r.seq.toString(), time: r.time, importWh: r.importWh, ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}), ...(r.powerW !== undefined ? { powerW: r.powerW } : {}) }, c.reading, c.name);
    assert.ok(h(c.tx).length <= 1024, 'within the default maxTxBytes');
  }
});

test('confidential vectors: each disclosure opens its reading alone', () => {
  for (const x of v.disclosures) {
    const d = decodeDisclosure(h(x.bytes));
    for (const c of v.readings) {
      const sealed = decodeSealedReadingTx(h(c.tx)).body;
      if (c.reading.seq === x.of) assert.equal(verifyDisclosure(v.chainId, sealed, d).importWh, x.values.importWh);
      else assert.throws(() => verifyDisclosure(v.chainId, sealed, { ...d, seq: sealed.seq }), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_BAD_DISCLOSURE_KEY);
    }
  }
});

test('confidential vectors: a bill\'s disclosures (billing.md §17.2) open their readings to the values stated; altered ones are refused with their codes', () => {
  const sealed = new Map(v.readings.map((c) => [c.reading.seq, decodeSealedReadingTx(h(c.tx)).body]));
  const open = (hexCbor: string) => openBillDisclosures(v.chainId, v.meter.id, billDisclosuresFromCbor(decodeCbor(h(hexCbor))), (seq) => sealed.get(seq.toString()));
  const opened = open(v.billDisclosures.cbor);
  assert.deepEqual(opened.map((r) => r.seq.toString()), v.billDisclosures.of);
  for (const r of opened) {
    const c = v.readings.find((x) => x.reading.seq === r.seq.toString())!;
    assert.equal(r.importWh, c.reading.importWh);
    assert.equal(r.exportWh, c.reading.exportWh);
  }
  for (const bad of v.billDisclosures.invalid) {
    assert.throws(() => open(bad.cbor), (e: unknown) => e instanceof RejectionError && e.code === bad.code, bad.name);
  }
});

/** The dispatch rule of §11.4: a type-1 payload with label 12 is sealed, else clear (§3.5). */
function decodeReadingAnyForm(tx: Uint8Array): unknown {
  const outer = miniDecode(tx)[0] as { value: MiniValue[] };
  const payload = miniDecode(outer.value[2] as Uint8Array)[0];
  return mapGet(payload, 12) === undefined ? decodeTx(tx) : decodeSealedReadingTx(tx);
}

async function runInvalid(c: ConfidentialInvalidVector): Promise<void> {
  const s = periodKeySchedule(h(v.periodKey), v.meter.id, v.period);
  const registered = v.recipients.map((r) => ({ id: r.id, kem: r.kemId as Kem, publicKey: h(r.publicKey) }));
  switch (c.check) {
    case 'decode': decodeReadingAnyForm(h(c.tx)); return;
    case 'decode-period-key': decodePeriodKeyTx(h(c.tx)); return;
    case 'nonce': checkNonceReuse(decodeSealedReadingTx(h(c.earlier!)).body, decodeSealedReadingTx(h(c.tx)).body); return;
    case 'decrypt': decryptReading(v.chainId, s, decodeSealedReadingTx(h(c.tx)).body); return;
    case 'disclosure': verifyDisclosure(v.chainId, decodeSealedReadingTx(h(c.tx)).body, decodeDisclosure(h(c.disclosure!))); return;
    case 'recipients': checkPeriodKeyRecipients(decodePeriodKeyTx(h(c.tx)).body, registered); return;
    case 'unwrap': {
      const r = v.recipients.find((x) => x.id === c.recipientId) ?? { kemId: 32, secretKey: toHex(new Uint8Array(32).fill(1)) };
      await openPeriodKey(v.chainId, decodePeriodKeyTx(h(c.tx)).body, c.recipientId!, recipientFromSecretKey(r.kemId as Kem, h(r.secretKey)));
    }
  }
}

test('confidential vectors: every invalid case is refused with its code (and field)', async () => {
  const checks = new Set<string>();
  for (const c of v.invalid) {
    checks.add(c.check);
    await assert.rejects(runInvalid(c), (e: unknown) => e instanceof RejectionError && e.code === c.code && (c.field === undefined || e.field === c.field), c.name);
    if (c.check === 'decrypt' || c.check === 'nonce' || c.check === 'recipients') {
      assert.doesNotThrow(() => (c.check === 'recipients' ? decodePeriodKeyTx(h(c.tx)) : decodeSealedReadingTx(h(c.tx))), `${c.name}: passes the keyless decode`);
    }
  }
  assert.deepEqual([...checks].sort(), ['decode', 'decode-period-key', 'decrypt', 'disclosure', 'nonce', 'recipients', 'unwrap']);
});

// ------------------------------------------------ the second implementation (node:crypto)

const hmac = (key: Uint8Array, ...msg: Uint8Array[]): Buffer => {
  const m = createHmac('sha256', key);
  for (const x of msg) m.update(x);
  return m.digest();
};
/** RFC 5869 HKDF-Expand, lengths up to 32 (one block), which is all this protocol uses. */
const expand = (prk: Uint8Array, info: Uint8Array, L: number): Buffer => hmac(prk, info, Uint8Array.of(1)).subarray(0, L);
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const txt = (s: string): Buffer => Buffer.from(s, 'utf8');

/** RFC 9180 §4 and §4.1 ExtractAndExpand, §5.1 KeySchedule, written again over node:crypto. */
function hpkeOpen(kem: 'X25519' | 'P-256', skR: Uint8Array, pkR: Uint8Array, enc: Uint8Array, info: Uint8Array, ct: Uint8Array): Buffer {
  const kemId = kem === 'X25519' ? 0x20 : 0x10;
  const kemSuite = Buffer.concat([txt('KEM'), u16(kemId)]);
  const suite = Buffer.concat([txt('HPKE'), u16(kemId), u16(1), u16(1)]);
  const lx = (s: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array) => hmac(salt.length ? salt : new Uint8Array(32), txt('HPKE-v1'), s, txt(label), ikm);
  const le = (s: Buffer, prk: Uint8Array, label: string, inf: Uint8Array, L: number) => expand(prk, Buffer.concat([u16(L), txt('HPKE-v1'), s, txt(label), inf]), L);
  let dh: Buffer;
  if (kem === 'X25519') {
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
    const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64(skR), x: b64(pkR) }, format: 'jwk' });
    dh = diffieHellman({ privateKey: priv, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(enc) }, format: 'jwk' }) });
  } else {
    const e = createECDH('prime256v1');
    e.setPrivateKey(B(skR));
    dh = e.computeSecret(B(enc));
  }
  const shared = le(kemSuite, lx(kemSuite, new Uint8Array(0), 'eae_prk', dh), 'shared_secret', Buffer.concat([enc, pkR]), 32);
  const ctx = Buffer.concat([Uint8Array.of(0), lx(suite, new Uint8Array(0), 'psk_id_hash', new Uint8Array(0)), lx(suite, new Uint8Array(0), 'info_hash', info)]);
  const secret = lx(suite, shared, 'secret', new Uint8Array(0));
  const key = le(suite, secret, 'key', ctx, 16);
  const nonce = le(suite, secret, 'base_nonce', ctx, 12);
  return gcmOpen('aes-128-gcm', key, nonce, new Uint8Array(0), ct);
}

function gcmOpen(alg: 'aes-128-gcm' | 'aes-256-gcm', key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ctAndTag: Uint8Array): Buffer {
  const d = createDecipheriv(alg, key, iv);
  d.setAAD(aad);
  d.setAuthTag(ctAndTag.subarray(ctAndTag.length - 16));
  return Buffer.concat([d.update(ctAndTag.subarray(0, ctAndTag.length - 16)), d.final()]);
}

const V1 = 'meterledger/confidential/v1';

test('second implementation (node:crypto + mini CBOR): each recipient opens the period key from the transaction bytes', () => {
  const outer = miniDecode(h(v.periodKeyTx.tx))[0] as { tag: bigint; value: MiniValue[] };
  assert.equal(outer.tag, 18n);
  const body = miniDecode(outer.value[2] as Uint8Array)[0];
  assert.equal(mapGet(body, 0), 5n);
  const meterId = mapGet(body, 1) as string, period = mapGet(body, 13) as string, keyId = mapGet(body, 14) as Uint8Array;
  for (const r of v.recipients) {
    const entry = (mapGet(body, 15) as MiniValue[][]).find((e) => e[0] === r.id)!;
    const info = miniEncode([`${V1}/period-key`, v.chainId, meterId, period, keyId, r.id]);
    const pk = hpkeOpen(r.kem, h(r.secretKey), h(r.publicKey), entry[1] as Uint8Array, info, entry[2] as Uint8Array);
    assert.equal(pk.toString('hex'), v.periodKey, r.id);
    // The key id the readings name is computed from the opened key alone.
    const prk = hmac(txt(V1), pk);
    assert.equal(expand(prk, miniEncode([`${V1}/key-id`, meterId, period]), 16).toString('hex'), toHex(keyId), r.id);
  }
});

test('second implementation (node:crypto + mini CBOR): every reading decrypts from its tx bytes and the period key, signature checked by OpenSSL', () => {
  const prk = hmac(txt(V1), h(v.periodKey));
  const meterKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(h(v.meter.publicKey)).toString('base64url') }, format: 'jwk' });
  for (const c of v.readings) {
    const outer = miniDecode(h(c.tx))[0] as { tag: bigint; value: MiniValue[] };
    const [prot, , payload, sig] = outer.value as [Uint8Array, MiniValue, Uint8Array, Uint8Array];
    const toSign = miniEncode(['Signature1', prot, txt(v.chainId), payload]);
    assert.equal(verify(null, toSign, meterKey, sig), true, c.name);
    const m = miniDecode(payload)[0];
    const meterId = mapGet(m, 1) as string, seq = mapGet(m, 2) as bigint, time = mapGet(m, 3) as bigint;
    for (const label of [4, 5, 6]) assert.equal(mapGet(m, label), undefined, `${c.name}: no clear value`);
    const [eprot, unprot, ct] = mapGet(m, 12) as [Uint8Array, MiniValue, Uint8Array];
    const hdr = miniDecode(eprot)[0];
    assert.equal(mapGet(hdr, 1), 3n, 'A256GCM');
    const iv = mapGet(unprot, 5) as Uint8Array;
    assert.equal(Buffer.from(iv).toString('hex'), `00000000${seq.toString(16).padStart(16, '0')}`, 'IV rule');
    const ck = expand(prk, miniEncode([`${V1}/content-key`, meterId, seq, time]), 32);
    assert.equal(expand(ck, miniEncode([`${V1}/key-commitment`]), 32).toString('hex'), toHex(mapGet(hdr, 4) as Uint8Array), `${c.name}: kid`);
    const aad = miniEncode(['Encrypt0', eprot, miniEncode([`${V1}/reading`, v.chainId, 1n, meterId, seq, time])]);
    const pt = gcmOpen('aes-256-gcm', expand(ck, miniEncode([`${V1}/aead-key`]), 32), iv, aad, ct);
    assert.equal(pt.length, 32, 'padded');
    const [values, used] = miniDecode(pt);
    assert.ok(pt.subarray(used).every((b) => b === 0), 'zero padding');
    const num = (x: MiniValue | undefined) => (x === undefined ? undefined : Number(x as bigint));
    assert.deepEqual(
      { meterId, seq: seq.toString(), time: Number(time), importWh: num(mapGet(values, 4)), exportWh: num(mapGet(values, 5)), powerW: num(mapGet(values, 6)) },
      { exportWh: undefined, powerW: undefined, ...c.reading }, c.name,
    );
  }
});
