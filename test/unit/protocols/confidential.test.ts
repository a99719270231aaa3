/**
 * Confidential readings (docs/protocol.md §11), behaviour: round trips from meter to
 * recipient, tampering of every field, the keyless checks a validator makes (structure,
 * nonce rule, nonce reuse, recipients, mode), disclosure, erasure, a WebCrypto recipient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import fc from 'fast-check';
import {
  Alg, Kem, ReasonCode, RejectionError, type Reading, type RecipientKey, type SubtleDh, TxType,
  aeadKeyOf, checkNonceReuse, checkPeriodKeyRecipients, checkReadingMode, contentKeyOf, cryptoRandom, decodeDisclosure,
  decodePeriodKeyTx, decodeSealedReadingTx, decodeTx, decryptReading, discloseReading, encStructure, encodeDisclosure,
  encodeCbor, isNonceReuse, kemPublicKey, newPeriodKey, openPeriodKey, openSealedReading, periodKeySchedule,
  publicKeyOf, readingIv, recipientFromSecretKey, recipientKeyProblem, sealPeriodKey, sealReading, sealedExternalAad,
  sigStructure, signCoseSign1, signPeriodKey, signSealedReading, subtleRecipient, verifyDisclosure, verifySignature,
} from '../../../protocols/index.js';
import { CHAIN_ID, seed } from '../../vectors/fixed.js';

const METER = 'meter-conf-9';
const PERIOD = '2026-12';
const T0 = Date.UTC(2026, 11, 1);

const recipients = [
  { id: 'john/enc-1', kem: Kem.P256, sk: seed('t-john') },
  { id: 'biller-1/enc-1', kem: Kem.X25519, sk: seed('t-biller') },
  { id: 'auditor-1/enc-1', kem: Kem.X25519, sk: seed('t-auditor') },
];
const registered: RecipientKey[] = recipients.map((r) => ({ id: r.id, kem: r.kem, publicKey: kemPublicKey(r.kem, r.sk) }));
const counterRandom = (label: string) => { let n = 0; return (len: number) => seed(`${label}/${n++}`).subarray(0, len); };
const periodKey = seed('t-period-key');
const sch = periodKeySchedule(periodKey, METER, PERIOD);
const meterSk = seed('t-meter');

const reading = (seq: bigint, importWh: number, extra: Partial<Reading> = {}): Reading =>
  ({ type: TxType.Reading, meterId: METER, seq, time: T0 + Number(seq % 10_000n) * 900_000, importWh, ...extra });
const code = (c: string) => (e: unknown): boolean => e instanceof RejectionError && e.code === c;
const fails = (f: () => unknown, c: string, what?: string): void => assert.throws(f, code(c), what);

test('round trip: sealed, signed, decoded and verified without a key, then decrypted by the period key to the same reading', () => {
  for (const alg of [Alg.EdDSA, Alg.ES256]) {
    for (const r of [reading(1n, 123_456), reading(2n, 123_789, { exportWh: 4_321, powerW: -1_500 }), reading(2n ** 64n - 1n, 0, { powerW: 7 })]) {
      const tx = signSealedReading(CHAIN_ID, alg, meterSk, sealReading(CHAIN_ID, sch, r));
      const d = decodeSealedReadingTx(tx);
      assert.equal(verifySignature(alg, publicKeyOf(alg, meterSk), sigStructure(d.cose.protectedBytes, d.cose.payload, CHAIN_ID), d.cose.signature), true);
      assert.deepEqual([d.body.meterId, d.body.seq, d.body.time], [r.meterId, r.seq, r.time]);
      assert.deepEqual(decryptReading(CHAIN_ID, sch, d.body), r);
    }
  }
});

test('no cleartext value in the sealed transaction: the CBOR of importWh, exportWh and powerW never appears in its bytes', () => {
  fc.assert(fc.property(
    fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
    (importWh, exportWh, p, seq) => {
      const r = reading(seq, importWh, { exportWh, powerW: -p });
      const sealed = sealReading(CHAIN_ID, sch, r);
      const tx = Buffer.from(signSealedReading(CHAIN_ID, Alg.EdDSA, meterSk, sealed));
      for (const v of [importWh, exportWh, -p]) assert.equal(tx.indexOf(Buffer.from(encodeCbor(v))), -1, `value ${v} leaked`);
      assert.equal(sealed.sealed.ciphertext.length, 48, 'padded: the length says nothing');
      assert.deepEqual(decryptReading(CHAIN_ID, sch, sealed), r);
    },
  ), { numRuns: 40 });
});

test('every ciphertext and tag byte is authenticated: each flipped bit is E_CONF_AUTH_FAILED for the key holder', () => {
  const s = sealReading(CHAIN_ID, sch, reading(5n, 1_000, { exportWh: 1 }));
  for (let i = 0; i < s.sealed.ciphertext.length; i++) {
    const ct = Uint8Array.from(s.sealed.ciphertext);
    ct[i]! ^= 1 << (i % 8);
    fails(() => decryptReading(CHAIN_ID, sch, { ...s, sealed: { ...s.sealed, ciphertext: ct } }), ReasonCode.CONF_AUTH_FAILED, `byte ${i}`);
  }
});

test('the AAD binds chain id, meterId, seq, time and type: changing any one fails authentication', () => {
  const r = reading(6n, 2_000);
  const s = sealReading(CHAIN_ID, sch, r);
  const ck = contentKeyOf(sch, r.seq, r.time);
  // Same content key, other clear fields: only the AAD differs.
  fails(() => openSealedReading('another-chain', s, ck), ReasonCode.CONF_AUTH_FAILED, 'chain id');
  fails(() => openSealedReading(CHAIN_ID, { ...s, meterId: 'meter-conf-8' }, ck), ReasonCode.CONF_AUTH_FAILED, 'meterId');
  fails(() => openSealedReading(CHAIN_ID, { ...s, seq: 7n }, ck), ReasonCode.CONF_AUTH_FAILED, 'seq');
  fails(() => openSealedReading(CHAIN_ID, { ...s, time: r.time + 1 }, ck), ReasonCode.CONF_AUTH_FAILED, 'time');
  // Type is in the AAD too: an Enc_structure made with another type does not open it.
  const aad5 = encStructure(s.sealed.protectedBytes, encodeCbor(['meterledger/confidential/v1/reading', CHAIN_ID, 5, METER, r.seq, r.time]));
  assert.throws(() => gcm(aeadKeyOf(ck), s.sealed.iv, aad5).decrypt(s.sealed.ciphertext), /invalid tag/);
  assert.doesNotThrow(() => gcm(aeadKeyOf(ck), s.sealed.iv, encStructure(s.sealed.protectedBytes, sealedExternalAad(CHAIN_ID, METER, r.seq, r.time))).decrypt(s.sealed.ciphertext));
});

test('protected header and IV are bound: another kid context or IV fails authentication, another kid is not the key', () => {
  const r = reading(8n, 3_000);
  const s = sealReading(CHAIN_ID, sch, r);
  const ck = contentKeyOf(sch, r.seq, r.time);
  const otherProt = encodeCbor(new Map<number, unknown>([[1, 3], [4, s.sealed.keyCommitment], [10, new Uint8Array(16)]]));
  fails(() => openSealedReading(CHAIN_ID, { ...s, sealed: { ...s.sealed, protectedBytes: otherProt } }, ck), ReasonCode.CONF_AUTH_FAILED, 'kid context');
  fails(() => openSealedReading(CHAIN_ID, { ...s, sealed: { ...s.sealed, iv: readingIv(9n) } }, ck), ReasonCode.CONF_AUTH_FAILED, 'iv');
  fails(() => openSealedReading(CHAIN_ID, { ...s, sealed: { ...s.sealed, keyCommitment: new Uint8Array(32) } }, ck), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'kid');
});

test('wrong keys: another seq\'s content key, another period key, a forged schedule, each with its own code', () => {
  const r1 = reading(10n, 10);
  const s1 = sealReading(CHAIN_ID, sch, r1);
  fails(() => openSealedReading(CHAIN_ID, s1, contentKeyOf(sch, 11n, r1.time)), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'key of seq 11');
  fails(() => openSealedReading(CHAIN_ID, s1, contentKeyOf(sch, 10n, r1.time + 1)), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'key of another time');
  const nextPeriod = periodKeySchedule(seed('t-period-key-2'), METER, '2027-01');
  fails(() => decryptReading(CHAIN_ID, nextPeriod, s1), ReasonCode.CONF_UNKNOWN_KEY, 'another period');
  fails(() => decryptReading(CHAIN_ID, periodKeySchedule(periodKey, 'meter-conf-8', PERIOD), s1), ReasonCode.CONF_UNKNOWN_KEY, 'another meter');
  const forged = { ...periodKeySchedule(seed('not-it'), METER, PERIOD), keyId: sch.keyId };
  fails(() => decryptReading(CHAIN_ID, forged, s1), ReasonCode.CONF_KEY_MISMATCH, 'same id, other key');
  // The meter sealing with a key the period key does not give: only a key holder sees it.
  const rogue = sealReading(CHAIN_ID, forged, r1);
  assert.doesNotThrow(() => decodeSealedReadingTx(signSealedReading(CHAIN_ID, Alg.EdDSA, meterSk, rogue)), 'keyless checks cannot tell');
  fails(() => decryptReading(CHAIN_ID, sch, rogue), ReasonCode.CONF_KEY_MISMATCH);
  fails(() => discloseReading(sch, rogue), ReasonCode.CONF_KEY_MISMATCH, 'a biller will not disclose it');
});

test('validators without keys: every single-byte change of a sealed tx is refused by decoding or by the signature', () => {
  const tx = signSealedReading(CHAIN_ID, Alg.EdDSA, meterSk, sealReading(CHAIN_ID, sch, reading(12n, 99_999, { powerW: 5 })));
  const pk = publicKeyOf(Alg.EdDSA, meterSk);
  let decoded = 0;
  for (let i = 0; i < tx.length; i++) {
    const t = Uint8Array.from(tx); // not tx.slice(): cborg hands out Buffers in Node, whose slice is a view
    t[i]! ^= 0x01;
    let d;
    try {
      d = decodeSealedReadingTx(t);
    } catch (e) {
      assert.ok(e instanceof RejectionError, `byte ${i}: ${String(e)}`);
      continue;
    }
    decoded++;
    assert.equal(verifySignature(Alg.EdDSA, pk, sigStructure(d.cose.protectedBytes, d.cose.payload, CHAIN_ID), d.cose.signature), false, `byte ${i}`);
  }
  assert.ok(decoded > 48, 'the ciphertext bytes decode and are caught by the signature');
});

test('keyless structure checks: the nonce rule, alg, lengths, clear and sealed never both (codes and fields)', () => {
  const s = sealReading(CHAIN_ID, sch, reading(13n, 1));
  const mk = (iv: Uint8Array, prot = s.sealed.protectedBytes, ct = s.sealed.ciphertext, extra: [number, unknown][] = []) => {
    const m = new Map<number, unknown>([[0, 1], [1, METER], [2, 13n], [3, s.time], ...extra, [12, [prot, new Map([[5, iv]]), ct]]]);
    return signedPayload(encodeCbor(new Map([...m.entries()].sort((a, b) => a[0] - b[0]))));
  };
  const at = (f: () => unknown, c: string, field: string) => assert.throws(f, (e: unknown) => e instanceof RejectionError && e.code === c && e.field === field, field);
  assert.doesNotThrow(() => decodeSealedReadingTx(mk(readingIv(13n))));
  at(() => decodeSealedReadingTx(mk(readingIv(12n))), ReasonCode.CONF_MALFORMED, 'iv');
  at(() => decodeSealedReadingTx(mk(cryptoRandom(12))), ReasonCode.CONF_MALFORMED, 'iv');
  at(() => decodeSealedReadingTx(mk(readingIv(13n), encodeCbor(new Map<number, unknown>([[1, 1], [4, s.sealed.keyCommitment], [10, s.sealed.keyId]])))), ReasonCode.CONF_MALFORMED, 'alg');
  at(() => decodeSealedReadingTx(mk(readingIv(13n), s.sealed.protectedBytes, s.sealed.ciphertext.subarray(0, 47))), ReasonCode.CONF_MALFORMED, 'ciphertext');
  at(() => decodeSealedReadingTx(mk(readingIv(13n), s.sealed.protectedBytes, s.sealed.ciphertext, [[4, 1]])), ReasonCode.SCHEMA, 'sealed');
  at(() => decodeSealedReadingTx(mk(readingIv(13n), s.sealed.protectedBytes, s.sealed.ciphertext, [[6, -1]])), ReasonCode.SCHEMA, 'sealed');
  // Today's clear decoder refuses a sealed reading (label 12 unknown to it), so no gateway takes one as clear.
  at(() => decodeTx(mk(readingIv(13n))), ReasonCode.SCHEMA, 'payload');
});

test('the protected header is checked byte for byte: a change outside kid and kid context is refused, inside it decodes', () => {
  const s = sealReading(CHAIN_ID, sch, reading(14n, 1));
  const p = s.sealed.protectedBytes;
  assert.equal(p.length, 56);
  for (let i = 0; i < p.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const q = Uint8Array.from(p);
      q[i]! ^= bit;
      const payload = encodeCbor(new Map<number, unknown>([[0, 1], [1, METER], [2, 14n], [3, s.time], [12, [q, new Map([[5, s.sealed.iv]]), s.sealed.ciphertext]]]));
      const inKid = (i >= 6 && i < 38) || (i >= 40 && i < 56);
      if (inKid) assert.doesNotThrow(() => decodeSealedReadingTx(signedPayload(payload)), `byte ${i}`);
      else assert.throws(() => decodeSealedReadingTx(signedPayload(payload)), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_MALFORMED, `byte ${i} bit ${bit}`);
    }
  }
});

/** Any payload, signed by the meter as a COSE_Sign1 (what a faulty firmware could send). */
const signedPayload = (payload: Uint8Array): Uint8Array => signCoseSign1(Alg.EdDSA, meterSk, payload, CHAIN_ID);

test('nonce reuse is seen without a key: same kid and IV, other bytes (E_CONF_NONCE_REUSED); a resend or a re-made reading is not', () => {
  const r = reading(20n, 5_000);
  const first = sealReading(CHAIN_ID, sch, r);
  const again = sealReading(CHAIN_ID, sch, { ...r, importWh: 5_001 }); // a firmware re-encrypting seq 20 with other values
  assert.equal(isNonceReuse(first, again), true);
  fails(() => checkNonceReuse(first, again), ReasonCode.CONF_NONCE_REUSED);
  // Why it is refused: the same key and IV give the same keystream, which the XOR of the ciphertexts exposes.
  const x = (a: Uint8Array, b: Uint8Array) => a.subarray(0, 32).map((v, i) => v ^ b[i]!);
  const ptA = encodeCbor(new Map([[4, 5_000]])), ptB = encodeCbor(new Map([[4, 5_001]]));
  assert.deepEqual(x(first.sealed.ciphertext, again.sealed.ciphertext).subarray(0, ptA.length), ptA.map((v, i) => v ^ ptB[i]!));
  assert.equal(isNonceReuse(first, sealReading(CHAIN_ID, sch, r)), false, 'identical resend (deterministic: same bytes)');
  assert.equal(isNonceReuse(first, sealReading(CHAIN_ID, sch, { ...r, time: r.time + 1000 })), false, 're-made after E_READING_TIME_SKEW: new time, new content key');
  assert.equal(isNonceReuse(first, sealReading(CHAIN_ID, sch, { ...r, seq: 21n })), false, 'next seq');
});

test('period key: wrapped to every registered recipient, each opens the same key; the recipient list is checked without keys', async () => {
  const body = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: registered, random: counterRandom('wrap') });
  const tx = signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSk, body);
  const d = decodePeriodKeyTx(tx);
  assert.deepEqual(d.body.recipients.map((e) => e.recipientId), ['auditor-1/enc-1', 'biller-1/enc-1', 'john/enc-1'], 'sorted by id');
  checkPeriodKeyRecipients(d.body, [...registered].reverse());
  for (const r of recipients) {
    const opened = await openPeriodKey(CHAIN_ID, d.body, r.id, recipientFromSecretKey(r.kem, r.sk));
    assert.deepEqual([opened.prk, opened.keyId], [sch.prk, sch.keyId], r.id);
  }
  // Wrong recipients, keyless.
  const two = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: registered.slice(0, 2), random: counterRandom('wrap') });
  fails(() => checkPeriodKeyRecipients(two, registered), ReasonCode.CONF_WRONG_RECIPIENTS, 'auditor missing');
  const mallory: RecipientKey = { id: 'mallory/enc-1', kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, seed('t-mallory')) };
  const plus = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: [...registered, mallory], random: counterRandom('wrap') });
  fails(() => checkPeriodKeyRecipients(plus, registered), ReasonCode.CONF_WRONG_RECIPIENTS, 'one extra');
  const swappedKem = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, random: counterRandom('wrap'),
    recipients: registered.map((r) => (r.id === 'john/enc-1' ? { ...r, kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, seed('t-john')) } : r)) });
  fails(() => checkPeriodKeyRecipients(swappedKem, registered), ReasonCode.CONF_WRONG_RECIPIENTS, 'owner entry for an X25519 key, registered P-256');
});

test('period key: a wrong recipient cannot open it, each failure with its own code', async () => {
  const body = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: registered, random: counterRandom('wrap2') });
  const rej = (p: Promise<unknown>, c: string, what: string) => assert.rejects(p, code(c), what);
  await rej(openPeriodKey(CHAIN_ID, body, 'mallory/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-mallory'))), ReasonCode.CONF_NOT_RECIPIENT, 'not listed');
  await rej(openPeriodKey(CHAIN_ID, body, 'biller-1/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-auditor'))), ReasonCode.CONF_AUTH_FAILED, 'listed id, another key');
  await rej(openPeriodKey(CHAIN_ID, body, 'john/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-john'))), ReasonCode.CONF_NOT_RECIPIENT, 'an X25519 key for a P-256 entry');
  await rej(openPeriodKey('another-chain', body, 'biller-1/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-biller'))), ReasonCode.CONF_AUTH_FAILED, 'the info binds the chain');
  await rej(openPeriodKey(CHAIN_ID, { ...body, period: '2027-01' }, 'biller-1/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-biller'))), ReasonCode.CONF_AUTH_FAILED, 'the info binds the period');
  const entries = body.recipients;
  const moved = { ...body, recipients: entries.map((e) => (e.recipientId === 'auditor-1/enc-1' ? { ...entries.find((x) => x.recipientId === 'biller-1/enc-1')!, recipientId: e.recipientId } : e)) };
  await rej(openPeriodKey(CHAIN_ID, moved, 'auditor-1/enc-1', recipientFromSecretKey(Kem.X25519, seed('t-auditor'))), ReasonCode.CONF_AUTH_FAILED, 'the biller\'s entry copied under the auditor\'s id');
});

test('selective disclosure: one content key opens exactly its reading, and is checked against the kid before decrypting', () => {
  const rs = [reading(30n, 100_000), reading(31n, 100_250, { powerW: 900 }), reading(32n, 100_600)];
  const sealed = rs.map((r) => sealReading(CHAIN_ID, sch, r));
  const d0 = decodeDisclosure(encodeDisclosure(discloseReading(sch, sealed[0]!)));
  const d2 = discloseReading(sch, sealed[2]!);
  assert.deepEqual(verifyDisclosure(CHAIN_ID, sealed[0]!, d0), rs[0]);
  assert.deepEqual(verifyDisclosure(CHAIN_ID, sealed[2]!, d2), rs[2]);
  fails(() => verifyDisclosure(CHAIN_ID, sealed[1]!, { ...d0, seq: 31n }), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'seq 30\'s key for seq 31');
  fails(() => verifyDisclosure(CHAIN_ID, sealed[1]!, d0), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'names another reading');
  fails(() => verifyDisclosure(CHAIN_ID, sealed[0]!, { ...d0, contentKey: cryptoRandom(32) }), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'a random key');
  const tampered = { ...sealed[0]!, sealed: { ...sealed[0]!.sealed, ciphertext: sealed[0]!.sealed.ciphertext.map((b, i) => (i === 3 ? b ^ 4 : b)) } };
  fails(() => verifyDisclosure(CHAIN_ID, tampered, d0), ReasonCode.CONF_AUTH_FAILED, 'right key, altered ciphertext');
  for (const bad of [encodeCbor([METER, 30n, new Uint8Array(31)]), encodeCbor([METER, 0, new Uint8Array(32)]), encodeCbor(['a/b', 1, new Uint8Array(32)]), encodeCbor([METER, 30n])]) {
    fails(() => decodeDisclosure(bad), ReasonCode.CONF_MALFORMED);
  }
});

test('erasure: with the period key and recipient keys gone, the chain and the disclosures open exactly the disclosed readings', async () => {
  const pk = newPeriodKey(counterRandom('erase'));
  const s = periodKeySchedule(pk, METER, '2027-02');
  const rs = Array.from({ length: 8 }, (_, i) => reading(BigInt(40 + i), 200_000 + i * 300));
  const txs = rs.map((r) => signSealedReading(CHAIN_ID, Alg.EdDSA, meterSk, sealReading(CHAIN_ID, s, r)));
  const keyTx = signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSk, sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: '2027-02', time: T0, periodKey: pk, recipients: registered, random: counterRandom('erase-wrap') }));
  const disclosed = [discloseReading(s, decodeSealedReadingTx(txs[0]!).body), discloseReading(s, decodeSealedReadingTx(txs[7]!).body)].map(encodeDisclosure);
  // Erasure: what remains is the chain (the exact tx bytes) and the bill's disclosures. No period key, no recipient secret key.
  const chain = [...txs, keyTx].map((b) => Uint8Array.from(b));
  const kept = disclosed.map(decodeDisclosure);
  const sealed = chain.slice(0, 8).map((b) => decodeSealedReadingTx(b).body);
  assert.deepEqual(verifyDisclosure(CHAIN_ID, sealed[0]!, kept[0]!), rs[0]);
  assert.deepEqual(verifyDisclosure(CHAIN_ID, sealed[7]!, kept[1]!), rs[7]);
  for (let i = 1; i < 7; i++) for (const d of kept) fails(() => openSealedReading(CHAIN_ID, sealed[i]!, d.contentKey), ReasonCode.CONF_BAD_DISCLOSURE_KEY, `reading ${i}`);
  // A fresh key pair for the same recipient id opens nothing.
  await assert.rejects(openPeriodKey(CHAIN_ID, decodePeriodKeyTx(chain[8]!).body, 'biller-1/enc-1', recipientFromSecretKey(Kem.X25519, cryptoRandom(32))), code(ReasonCode.CONF_AUTH_FAILED));
});

test('mode: a confidential meter\'s clear reading and a clear meter\'s sealed reading are E_CONF_MODE_MISMATCH', () => {
  fails(() => checkReadingMode(true, false), ReasonCode.CONF_MODE_MISMATCH);
  fails(() => checkReadingMode(false, true), ReasonCode.CONF_MODE_MISMATCH);
  assert.doesNotThrow(() => checkReadingMode(true, true));
  assert.doesNotThrow(() => checkReadingMode(false, false));
});

test('recipient keys: a separate id per encryption key; bad ids, compressed P-256 points and small-order X25519 keys refused', () => {
  assert.equal(recipientKeyProblem(registered[0]!), undefined);
  assert.match(recipientKeyProblem({ ...registered[1]!, id: '/enc' }) ?? '', /recipient id/);
  assert.match(recipientKeyProblem({ ...registered[0]!, publicKey: registered[0]!.publicKey.subarray(0, 33) }) ?? '', /uncompressed/);
  assert.match(recipientKeyProblem({ ...registered[1]!, publicKey: new Uint8Array(32) }) ?? '', /small order/);
  assert.throws(() => sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: [registered[0]!, registered[0]!], random: cryptoRandom }), /twice/);
});

test('randomness only from the injected source: the same source gives the same bytes, cryptoRandom fresh ones', () => {
  const mk = (random: (n: number) => Uint8Array) => sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: registered, random });
  assert.deepEqual(mk(counterRandom('same')), mk(counterRandom('same')));
  const a = mk(cryptoRandom), b = mk(cryptoRandom);
  assert.notDeepEqual(a.recipients[0]!.enc, b.recipients[0]!.enc);
  assert.equal(cryptoRandom(32).length, 32);
});

test('a browser\'s WebCrypto keys (ECDH P-256 and X25519, not extractable) open a period key through subtleRecipient', async () => {
  const subtle = webcrypto.subtle as unknown as SubtleDh & typeof webcrypto.subtle;
  const p = await webcrypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']) as webcrypto.CryptoKeyPair;
  const x = await webcrypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']) as webcrypto.CryptoKeyPair;
  const pPub = new Uint8Array(await webcrypto.subtle.exportKey('raw', p.publicKey));
  const xPub = new Uint8Array(await webcrypto.subtle.exportKey('raw', x.publicKey));
  const keys: RecipientKey[] = [{ id: 'john/browser-p256', kem: Kem.P256, publicKey: pPub }, { id: 'john/browser-x25519', kem: Kem.X25519, publicKey: xPub }];
  const body = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: keys, random: cryptoRandom });
  const a = await openPeriodKey(CHAIN_ID, body, 'john/browser-p256', subtleRecipient(subtle, Kem.P256, p.privateKey, pPub));
  const b = await openPeriodKey(CHAIN_ID, body, 'john/browser-x25519', subtleRecipient(subtle, Kem.X25519, x.privateKey, xPub));
  assert.deepEqual([a.keyId, b.keyId], [sch.keyId, sch.keyId]);
  const r = reading(50n, 4242);
  assert.deepEqual(decryptReading(CHAIN_ID, a, sealReading(CHAIN_ID, sch, r)), r, 'the portal decrypts the owner\'s reading');
});

test('period key transaction: decoding refuses unsorted or duplicate recipients, bad enc, a wrong ciphertext length', () => {
  const body = sealPeriodKey({ chainId: CHAIN_ID, meterId: METER, period: PERIOD, time: T0, periodKey, recipients: registered, random: counterRandom('dec') });
  const tx = (b: typeof body) => signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSk, b);
  const e = body.recipients;
  const at = (b: typeof body, field: string) => assert.throws(() => decodePeriodKeyTx(tx(b)), (x: unknown) => x instanceof RejectionError && x.code === ReasonCode.CONF_MALFORMED && x.field === field, field);
  at({ ...body, recipients: [...e].reverse() }, 'recipients');
  at({ ...body, recipients: [e[0]!, e[0]!] }, 'recipients');
  at({ ...body, recipients: [{ ...e[0]!, enc: new Uint8Array(32) }] }, 'enc');
  at({ ...body, recipients: [{ ...e[0]!, ciphertext: e[0]!.ciphertext.subarray(1) }] }, 'ciphertext');
  at({ ...body, keyId: new Uint8Array(15) }, 'keyId');
  at({ ...body, period: '' }, 'period');
  at({ ...body, recipients: [] }, 'recipients');
});
