/**
 * Vectors of confidential readings (docs/protocol.md §11): a period key wrapped to three
 * recipients (X25519 and P-256), sealed readings step by step, disclosures, and inputs to
 * refuse with their codes. Every secret comes from a fixed label (seed()), the HPKE
 * ephemeral keys from fixed ikmE, so every byte is reproducible; written to
 * test/vectors/confidential.json by generate.ts.
 */
import {
  Alg, AlgName, type Reading, type RecipientKey, ReasonCode, TxType, type SealedReading, type PeriodKeyBody,
  Kem, KemName, aeadKeyOf, contentKeyOf, deriveKeyPair, encStructure, encodeCbor, encodeDisclosure,
  encodeMeasuredValues, encodePeriodKeyBody, encodeSealedProtectedHeader, encodeSealedReadingBody, encodeCoseSign1,
  encodeProtectedHeader, discloseReading, kemPublicKey, keyCommitmentOf, periodKeySchedule, periodKeyWrapInfo,
  publicKeyOf, readingIv, sealBase, sealPeriodKey, sealReading, sealedExternalAad, setupBaseSender, sha256, sigStructure,
  signMessage, signPeriodKey, signSealedReading, toHex, utf8, CONFIDENTIAL_V1, billDisclosuresToCbor, discloseForBill,
} from '../../protocols/index.js';
import { CHAIN_ID, seed } from './fixed.js';

const hex = toHex;

export const CONF_METER = 'meter-conf-0001';
export const CONF_PERIOD = '2026-11';
/** 2026-11-01T00:00:00Z */
export const PERIOD_START = Date.UTC(2026, 10, 1);
const QUARTER = 15 * 60_000;

export interface RecipientSpec { id: string; role: string; kem: Kem; label: string }
export const RECIPIENTS: RecipientSpec[] = [
  { id: 'john/enc-1', role: 'owner (a browser WebCrypto ECDH P-256 key)', kem: Kem.P256, label: 'recipient-john-enc-1' },
  { id: 'biller-1/enc-1', role: 'biller (the utility)', kem: Kem.X25519, label: 'recipient-biller-1-enc-1' },
  { id: 'auditor-1/enc-1', role: 'auditor', kem: Kem.X25519, label: 'recipient-auditor-1-enc-1' },
];

export const recipientSecret = (r: RecipientSpec): Uint8Array => seed(r.label);
export const recipientKey = (r: RecipientSpec): RecipientKey => ({ id: r.id, kem: r.kem, publicKey: kemPublicKey(r.kem, recipientSecret(r)) });
export const meterSecret = (): Uint8Array => seed(CONF_METER);
export const periodKey = (): Uint8Array => seed(`period-key/${CONF_METER}/${CONF_PERIOD}`);
export const schedule = () => periodKeySchedule(periodKey(), CONF_METER, CONF_PERIOD);

/** A fixed "random source": the ikmE of the n-th call is SHA-256 of a label and n. */
export function fixedRandom(label: string): (length: number) => Uint8Array {
  let n = 0;
  return (length) => {
    if (length !== 32) throw new Error('vectors only draw 32-byte ikmE');
    return sha256(utf8(`meterledger/test-vector/${label}/${n++}`));
  };
}

export const READING_CASES: { name: string; reading: Omit<Reading, 'type'> }[] = [
  { name: 'importWh only (first reading of the period)', reading: { meterId: CONF_METER, seq: 1n, time: PERIOD_START, importWh: 123_456 } },
  { name: 'all three fields, negative powerW', reading: { meterId: CONF_METER, seq: 2n, time: PERIOD_START + QUARTER, importWh: 123_789, exportWh: 4_321, powerW: -1_500 } },
  { name: 'importWh and positive powerW', reading: { meterId: CONF_METER, seq: 3n, time: PERIOD_START + 2 * QUARTER, importWh: 123_900, powerW: 2_300 } },
  {
    name: 'largest plaintext (31 bytes): every value at 2^53-1 in magnitude, seq above 2^53',
    reading: { meterId: CONF_METER, seq: 2n ** 53n + 1n, time: PERIOD_START + 3 * QUARTER, importWh: Number.MAX_SAFE_INTEGER, exportWh: Number.MAX_SAFE_INTEGER, powerW: -Number.MAX_SAFE_INTEGER },
  },
  { name: 'seq 2^64-1, importWh 0', reading: { meterId: CONF_METER, seq: 2n ** 64n - 1n, time: PERIOD_START + 4 * QUARTER, importWh: 0 } },
];

const readingJson = (r: Omit<Reading, 'type'>): Record<string, unknown> => ({
  meterId: r.meterId, seq: r.seq.toString(), time: r.time, importWh: r.importWh,
  ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}), ...(r.powerW !== undefined ? { powerW: r.powerW } : {}),
});

export function sealedCase(i: number): SealedReading {
  return sealReading(CHAIN_ID, schedule(), { type: TxType.Reading, ...READING_CASES[i]!.reading });
}

export function periodKeyBody(recipients = RECIPIENTS.map(recipientKey)): PeriodKeyBody {
  return sealPeriodKey({
    chainId: CHAIN_ID, meterId: CONF_METER, period: CONF_PERIOD, time: PERIOD_START - 60_000,
    periodKey: periodKey(), recipients, random: fixedRandom(`ikmE/${CONF_METER}/${CONF_PERIOD}`),
  });
}

/** A properly signed COSE_Sign1 over any payload (the meter's Ed25519 key). */
function signedOver(payload: Uint8Array): Uint8Array {
  const prot = encodeProtectedHeader(Alg.EdDSA);
  return encodeCoseSign1(prot, payload, signMessage(Alg.EdDSA, meterSecret(), sigStructure(prot, payload, CHAIN_ID)));
}

/** The payload map of a sealed case, with some changes (undefined deletes a label; a function edits the COSE_Encrypt0). */
function sealedPayloadWith(i: number, change: (m: Map<number, unknown>, enc0: unknown[]) => void): Uint8Array {
  const s = sealedCase(i);
  const enc0: unknown[] = [s.sealed.protectedBytes, new Map([[5, s.sealed.iv]]), s.sealed.ciphertext];
  const m = new Map<number, unknown>([[0, 1], [1, s.meterId], [2, s.seq], [3, s.time], [12, enc0]]);
  change(m, enc0);
  return encodeCbor(m);
}

function buildPeriodKey(): Record<string, unknown> {
  const body = periodKeyBody();
  const rnd = fixedRandom(`ikmE/${CONF_METER}/${CONF_PERIOD}`);
  const sorted = RECIPIENTS.map(recipientKey).sort((a, b) => (a.id < b.id ? -1 : 1));
  const entries = sorted.map((r, i) => {
    const ikmE = rnd(32);
    const info = periodKeyWrapInfo(CHAIN_ID, CONF_METER, CONF_PERIOD, body.keyId, r.id);
    const ctx = setupBaseSender(r.kem, r.publicKey, info, ikmE);
    const e = body.recipients[i]!;
    if (hex(e.enc) !== hex(ctx.enc)) throw new Error('vector builder: entries out of order');
    return {
      recipientId: r.id, kem: KemName[r.kem], ikmE: hex(ikmE), skE: hex(deriveKeyPair(r.kem, ikmE).secretKey), enc: hex(e.enc),
      info: hex(info), sharedSecret: hex(ctx.sharedSecret), key: hex(ctx.key), baseNonce: hex(ctx.baseNonce), ciphertext: hex(e.ciphertext),
    };
  });
  const payload = encodePeriodKeyBody(body);
  const tx = signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSecret(), body);
  return { type: 5, meterId: CONF_METER, period: CONF_PERIOD, time: body.time, keyId: hex(body.keyId), entries, payload: hex(payload), tx: hex(tx), txHash: hex(sha256(tx)) };
}

function buildReading(i: number): Record<string, unknown> {
  const c = READING_CASES[i]!;
  const r = c.reading;
  const sch = schedule();
  const contentKeyInfo = encodeCbor([`${CONFIDENTIAL_V1}/content-key`, r.meterId, r.seq, r.time]);
  const ck = contentKeyOf(sch, r.seq, r.time);
  const kid = keyCommitmentOf(ck);
  const prot = encodeSealedProtectedHeader(kid, sch.keyId);
  const ext = sealedExternalAad(CHAIN_ID, r.meterId, r.seq, r.time);
  const sealed = sealedCase(i);
  const payload = encodeSealedReadingBody(sealed);
  const tx = signSealedReading(CHAIN_ID, Alg.EdDSA, meterSecret(), sealed);
  return {
    name: c.name, reading: readingJson(r), contentKeyInfo: hex(contentKeyInfo), contentKey: hex(ck), aeadKey: hex(aeadKeyOf(ck)),
    keyCommitment: hex(kid), iv: hex(readingIv(r.seq)), plaintext: hex(encodeMeasuredValues(r)), protectedHeader: hex(prot),
    externalAad: hex(ext), encStructure: hex(encStructure(prot, ext)), ciphertext: hex(sealed.sealed.ciphertext),
    payload: hex(payload), sigStructure: hex(sigStructure(encodeProtectedHeader(Alg.EdDSA), payload, CHAIN_ID)), tx: hex(tx), txHash: hex(sha256(tx)),
  };
}

function buildInvalid(): Record<string, unknown>[] {
  const S = ReasonCode.SCHEMA, M = ReasonCode.CONF_MALFORMED;
  const s0 = sealedCase(0);
  const decode = (name: string, code: string, field: string, payload: Uint8Array) => ({ name, check: 'decode', code, field, tx: hex(signedOver(payload)) });
  const badProt = (m: Map<number, unknown>) => (_: Map<number, unknown>, enc0: unknown[]) => { enc0[0] = encodeCbor(m); };
  const kid = s0.sealed.keyCommitment, kidc = s0.sealed.keyId;

  // A meter that re-encrypts seq 2 (same time) with other values: same content key, same IV.
  const r2 = READING_CASES[1]!.reading;
  const reuse = sealReading(CHAIN_ID, schedule(), { type: TxType.Reading, ...r2, importWh: r2.importWh + 1 });
  // A reading whose bytes were altered, then signed by the meter itself: only a key holder can tell.
  const tampered = sealedPayloadWith(0, (_m, enc0) => { const ct = Uint8Array.from(enc0[2] as Uint8Array); ct[0]! ^= 1; enc0[2] = ct; });
  const tamperedTag = sealedPayloadWith(0, (_m, enc0) => { const ct = Uint8Array.from(enc0[2] as Uint8Array); ct[ct.length - 1]! ^= 0x80; enc0[2] = ct; });
  // A sealed body moved to another reading (seq 1's ciphertext with seq 1 but time + 1 ms): the AAD differs.
  const movedTime = sealedPayloadWith(0, (m) => { m.set(3, s0.time + 1); });
  // A reading sealed with a content key that does not come from the period key.
  const rogue = periodKeySchedule(seed('not-the-period-key'), CONF_METER, CONF_PERIOD);
  const rogueSealed = sealReading(CHAIN_ID, { ...rogue, keyId: schedule().keyId }, { type: TxType.Reading, ...READING_CASES[0]!.reading });
  // A period key whose owner entry holds another key.
  const recipients = RECIPIENTS.map(recipientKey);
  const honest = periodKeyBody();
  // The meter wraps another key to the owner, under the honest entry's info: the owner's HPKE open succeeds, the key id check does not.
  const john = recipients.find((r) => r.id === 'john/enc-1')!;
  const rogueWrap = sealBase(john.kem, john.publicKey, periodKeyWrapInfo(CHAIN_ID, CONF_METER, CONF_PERIOD, honest.keyId, john.id), new Uint8Array(0), seed('another-period-key'), fixedRandom('ikmE/other')(32));
  const mixed: PeriodKeyBody = { ...honest, recipients: honest.recipients.map((e) => (e.recipientId === john.id ? { recipientId: john.id, enc: rogueWrap.enc, ciphertext: rogueWrap.ct } : e)) };
  const missingAuditor = periodKeyBody(recipients.filter((r) => r.id !== 'auditor-1/enc-1'));
  const unsorted: PeriodKeyBody = { ...honest, recipients: [...honest.recipients].reverse() };

  return [
    decode('clear and sealed fields together (label 4 beside label 12)', S, 'sealed', sealedPayloadWith(0, (m) => { m.set(4, 1); })),
    decode('sealed reading without label 12 is a clear reading missing importWh (clear decoder)', S, 'importWh', sealedPayloadWith(0, (m) => { m.delete(12); })),
    decode('IV not 00000000 || seq (a random IV)', M, 'iv', sealedPayloadWith(0, (_m, enc0) => { enc0[1] = new Map([[5, sha256(utf8('random')).subarray(0, 12)]]); })),
    decode('IV of another seq (seq 2 carrying the IV of seq 1)', M, 'iv', sealedPayloadWith(1, (_m, enc0) => { enc0[1] = new Map([[5, readingIv(1n)]]); })),
    decode('alg 1 (A128GCM) instead of 3', M, 'alg', sealedPayloadWith(0, badProt(new Map<number, unknown>([[1, 1], [4, kid], [10, kidc]])))),
    decode('kid of 16 bytes', M, 'kid', sealedPayloadWith(0, badProt(new Map<number, unknown>([[1, 3], [4, kid.subarray(0, 16)], [10, kidc]])))),
    decode('kid context missing', M, 'protected', sealedPayloadWith(0, badProt(new Map<number, unknown>([[1, 3], [4, kid]])))),
    decode('extra unprotected label', M, 'unprotected', sealedPayloadWith(0, (_m, enc0) => { enc0[1] = new Map<number, unknown>([[5, readingIv(1n)], [6, Uint8Array.of(1)]]); })),
    decode('ciphertext of 47 bytes', M, 'ciphertext', sealedPayloadWith(0, (_m, enc0) => { enc0[2] = (enc0[2] as Uint8Array).subarray(1); })),
    decode('COSE_Encrypt0 tagged (16) instead of embedded untagged', ReasonCode.MALFORMED, 'payload', concatTag16(sealedPayloadWith(0, () => {}))),
    { name: 'the same seq and time sealed again with other values (a reused GCM nonce)', check: 'nonce', code: ReasonCode.CONF_NONCE_REUSED, earlier: buildReading(1).tx, tx: hex(signSealedReading(CHAIN_ID, Alg.EdDSA, meterSecret(), reuse)) },
    { name: 'ciphertext altered, then signed by the meter', check: 'decrypt', code: ReasonCode.CONF_AUTH_FAILED, tx: hex(signedOver(tampered)) },
    { name: 'tag altered, then signed by the meter', check: 'decrypt', code: ReasonCode.CONF_AUTH_FAILED, tx: hex(signedOver(tamperedTag)) },
    { name: 'clear field time changed (in the AAD), then signed by the meter: its disclosed key fails authentication', check: 'disclosure', code: ReasonCode.CONF_AUTH_FAILED, tx: hex(signedOver(movedTime)), disclosure: hex(encodeDisclosure(discloseReading(schedule(), s0))) },
    { name: 'clear field time changed, then signed by the meter: the period key gives another content key', check: 'decrypt', code: ReasonCode.CONF_KEY_MISMATCH, tx: hex(signedOver(movedTime)) },
    { name: 'content key not derived from the period key (the kid commits to another key)', check: 'decrypt', code: ReasonCode.CONF_KEY_MISMATCH, tx: hex(signSealedReading(CHAIN_ID, Alg.EdDSA, meterSecret(), rogueSealed)) },
    { name: 'disclosure of seq 1 with the content key of seq 2', check: 'disclosure', code: ReasonCode.CONF_BAD_DISCLOSURE_KEY, tx: buildReading(0).tx, disclosure: hex(encodeDisclosure({ meterId: CONF_METER, seq: 1n, contentKey: contentKeyOf(schedule(), 2n, READING_CASES[1]!.reading.time) })) },
    { name: 'period key without the registered auditor', check: 'recipients', code: ReasonCode.CONF_WRONG_RECIPIENTS, tx: hex(signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSecret(), missingAuditor)) },
    { name: 'period key recipients not sorted by id', check: 'decode-period-key', code: M, field: 'recipients', tx: hex(signedOver(encodePeriodKeyBody(unsorted))) },
    { name: 'period key whose entry for john/enc-1 wraps another key', check: 'unwrap', code: ReasonCode.CONF_KEY_MISMATCH, recipientId: 'john/enc-1', tx: hex(signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSecret(), mixed)) },
    { name: 'period key opened by a key that is not a recipient', check: 'unwrap', code: ReasonCode.CONF_NOT_RECIPIENT, recipientId: 'mallory/enc-1', tx: hex(signPeriodKey(CHAIN_ID, Alg.EdDSA, meterSecret(), honest)) },
  ];
}

/** The payload with its COSE_Encrypt0 wrapped in tag 16: refused by the decoder (only tag 18 exists). */
function concatTag16(payload: Uint8Array): Uint8Array {
  // Label 12 is the last key; its value starts right after the 0x0c key byte. Insert d0 (tag 16).
  const h = hex(payload);
  const at = h.lastIndexOf('0c83');
  if (at < 0) throw new Error('vector builder: sealed layout changed');
  return Uint8Array.from(`${h.slice(0, at)}0cd0${h.slice(at + 2)}`.match(/../g)!.map((x) => parseInt(x, 16)));
}

export function buildConfidential(): unknown {
  const sch = schedule();
  return {
    description: 'Confidential readings (docs/protocol.md §11): period key, HPKE-wrapped period key transaction, sealed readings step by step (COSE_Encrypt0, A256GCM), disclosures, and inputs to refuse. All hex lowercase; seq a decimal string.',
    chainId: CHAIN_ID,
    meter: { id: CONF_METER, alg: AlgName[Alg.EdDSA], secretKey: hex(meterSecret()), publicKey: hex(publicKeyOf(Alg.EdDSA, meterSecret())) },
    recipients: RECIPIENTS.map((r) => ({ id: r.id, role: r.role, kem: KemName[r.kem], kemId: r.kem, secretKey: hex(recipientSecret(r)), publicKey: hex(recipientKey(r).publicKey) })),
    period: CONF_PERIOD,
    periodKey: hex(periodKey()),
    prk: hex(sch.prk),
    keyIdInfo: hex(encodeCbor([`${CONFIDENTIAL_V1}/key-id`, CONF_METER, CONF_PERIOD])),
    keyId: hex(sch.keyId),
    aeadKeyInfo: hex(encodeCbor([`${CONFIDENTIAL_V1}/aead-key`])),
    keyCommitmentInfo: hex(encodeCbor([`${CONFIDENTIAL_V1}/key-commitment`])),
    periodKeyTx: buildPeriodKey(),
    readings: READING_CASES.map((_, i) => buildReading(i)),
    disclosures: [0, 2].map((i) => {
      const d = discloseReading(sch, sealedCase(i));
      return { of: READING_CASES[i]!.reading.seq.toString(), bytes: hex(encodeDisclosure(d)), values: readingJson(READING_CASES[i]!.reading) };
    }),
    billDisclosures: buildBillDisclosures(),
    invalid: buildInvalid(),
  };
}

/**
 * docs/billing.md §17.2: label 31 of a bill of readings 1 and 2, and the same with a
 * misstated value and with another reading's key, each with the code a verifier gives.
 */
function buildBillDisclosures(): unknown {
  const ds = discloseForBill(CHAIN_ID, [schedule()], [sealedCase(0), sealedCase(1)], [1n, 2n]);
  const cbor = (x: typeof ds) => hex(encodeCbor(billDisclosuresToCbor(x)));
  return {
    of: ['1', '2'],
    cbor: cbor(ds),
    invalid: [
      { name: 'misstated importWh of reading 1', cbor: cbor([{ ...ds[0]!, importWh: ds[0]!.importWh + 1 }, ds[1]!]), code: ReasonCode.BILL_DISCLOSED_VALUE },
      { name: 'reading 1 disclosed with the content key of reading 2', cbor: cbor([{ ...ds[0]!, contentKey: ds[1]!.contentKey }, ds[1]!]), code: ReasonCode.CONF_BAD_DISCLOSURE_KEY },
      { name: 'exportWh stated for reading 1, which has none', cbor: cbor([{ ...ds[0]!, exportWh: 0 }, ds[1]!]), code: ReasonCode.BILL_DISCLOSED_VALUE },
    ],
  };
}
