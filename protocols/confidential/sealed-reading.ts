/**
 * Sealed readings (docs/protocol.md §11.4): a confidential meter's reading keeps meterId,
 * seq and time in the clear and carries its measurement fields (importWh, exportWh,
 * powerW) as a COSE_Encrypt0 (RFC 9052 §5.2) under label 12, instead of labels 4-6:
 *
 *   payload = { 0: 1, 1: meterId, 2: seq, 3: time, 12: COSE_Encrypt0 }
 *   COSE_Encrypt0 = [ protected: bstr .cbor { 1: 3 (A256GCM), 4: kid = key commitment (32),
 *                                           10: kid context = period key id (16) },
 *                     unprotected: { 5: IV = 00000000 || uint64be(seq) },
 *                     ciphertext: bstr (48: 32 bytes of padded plaintext + 16 of tag) ]
 *   Enc_structure = [ "Encrypt0", protected, external_aad ]          (RFC 9052 §5.3)
 *   external_aad  = CBOR [ "meterledger/confidential/v1/reading", chainId, 1, meterId, seq, time ]
 *
 * The COSE_Sign1 around the payload is signed by the meter as for any reading. Everything
 * a validator checks per reading here needs no key: structure, the IV rule, lengths.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { decodeCanonicalCbor, decodeCanonicalCborPrefix, encodeCbor } from '../cbor.js';
import { signCoseSign1 } from '../cose.js';
import { equalBytes, toHex } from '../bytes.js';
import { ReasonCode, RejectionError } from '../errors.js';
import type { Alg } from '../keys.js';
import { decodePayloadMap } from '../payload.js';
import { MAX_TX_BYTES, READING_TYPE, type Reading, readingClearFields } from '../reading.js';

const TxType = { Reading: READING_TYPE } as const;
import {
  CONFIDENTIAL_V1, IV_BYTES, KEY_COMMITMENT_BYTES, KEY_ID_BYTES, type PeriodKeySchedule, aeadKeyOf,
  contentKeyOf, keyCommitmentOf, readingIv,
} from './schedule.js';
import { type MeterSigned, confMalformed, decodeMeterSigned } from './signed.js';

/** The payload label of the sealed measurement fields. */
export const SEALED_LABEL = 12;
/** COSE alg A256GCM (RFC 9053 §4.1, Table 5). */
export const COSE_A256GCM = 3;
/** COSE header labels: alg, kid, IV (RFC 9052 §3.1), kid context (RFC 8613 §12.2). */
const HDR_ALG = 1;
const HDR_KID = 4;
const HDR_IV = 5;
const HDR_KID_CONTEXT = 10;
/** Every plaintext is padded to this length, so the ciphertext length says nothing. */
export const SEALED_PLAINTEXT_BYTES = 32;
export const SEALED_CIPHERTEXT_BYTES = SEALED_PLAINTEXT_BYTES + 16;

export type MeasuredValues = Pick<Reading, 'importWh' | 'exportWh' | 'powerW'>;

/** The COSE_Encrypt0 of a sealed reading, decoded. */
export interface SealedFields {
  /** The protected header exactly as sent. */
  readonly protectedBytes: Uint8Array;
  /** kid context (label 10): the id of the period key it is sealed under. */
  readonly keyId: Uint8Array;
  /** kid (label 4): the commitment to its content key (schedule.ts keyCommitmentOf). */
  readonly keyCommitment: Uint8Array;
  readonly iv: Uint8Array;
  /** Ciphertext followed by the 16-byte GCM tag. */
  readonly ciphertext: Uint8Array;
}

export interface SealedReading {
  readonly type: typeof TxType.Reading;
  readonly meterId: string;
  readonly seq: bigint;
  readonly time: number;
  readonly sealed: SealedFields;
}

/** A sealed reading transaction with its exact bytes and hash (as SignedTx for clear ones). */
export type SignedSealedReading = MeterSigned<SealedReading>;

const malformed = confMalformed;
const schema = (msg: string, field: string): RejectionError => new RejectionError(ReasonCode.SCHEMA, msg, field);

// ------------------------------------------------------------------------------ plaintext

/** The plaintext: the CBOR map {4: importWh, ?5: exportWh, ?6: powerW}, then zero bytes up to 32. */
export function encodeMeasuredValues(v: MeasuredValues): Uint8Array {
  const uintOk = (x: number | undefined) => x === undefined || (Number.isSafeInteger(x) && x >= 0);
  if (!uintOk(v.importWh) || !uintOk(v.exportWh)) throw new TypeError('importWh and exportWh are unsigned integers below 2^53');
  if (v.powerW !== undefined && !Number.isSafeInteger(v.powerW)) throw new TypeError('powerW is an integer of magnitude below 2^53');
  const m = new Map<number, number>([[4, v.importWh]]);
  if (v.exportWh !== undefined) m.set(5, v.exportWh);
  if (v.powerW !== undefined) m.set(6, v.powerW);
  const item = encodeCbor(m);
  const out = new Uint8Array(SEALED_PLAINTEXT_BYTES); // the largest item is 31 bytes
  out.set(item);
  return out;
}

/** The inverse of encodeMeasuredValues, strictly: one canonical map, then only zeros. */
export function decodeMeasuredValues(pt: Uint8Array): MeasuredValues {
  if (pt.length !== SEALED_PLAINTEXT_BYTES) throw malformed(`plaintext must be ${SEALED_PLAINTEXT_BYTES} bytes`, 'plaintext');
  let m: unknown;
  let rest: Uint8Array;
  try {
    [m, rest] = decodeCanonicalCborPrefix(pt);
  } catch (cause) {
    throw malformed(`plaintext is not deterministic CBOR: ${(cause as Error).message}`, 'plaintext', cause);
  }
  if (!rest.every((b) => b === 0)) throw malformed('plaintext padding must be zero bytes', 'plaintext');
  if (!(m instanceof Map)) throw malformed('plaintext must be a CBOR map', 'plaintext');
  for (const k of m.keys()) if (k !== 4 && k !== 5 && k !== 6) throw malformed(`plaintext label ${String(k)} is not allowed`, 'plaintext');
  const u = (label: number, name: string, signed = false): number | undefined => {
    const x = m.get(label);
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || (!signed && x < 0)) throw malformed(`${name} (label ${label}) has the wrong type`, name);
    return x;
  };
  const importWh = u(4, 'importWh');
  if (importWh === undefined) throw malformed('importWh (label 4) is required', 'importWh');
  const out: { -readonly [K in keyof MeasuredValues]: MeasuredValues[K] } = { importWh };
  const exportWh = u(5, 'exportWh');
  if (exportWh !== undefined) out.exportWh = exportWh;
  const powerW = u(6, 'powerW', true);
  if (powerW !== undefined) out.powerW = powerW;
  return out;
}

// ------------------------------------------------------------------- headers and AAD

export function encodeSealedProtectedHeader(keyCommitment: Uint8Array, keyId: Uint8Array): Uint8Array {
  return encodeCbor(new Map<number, unknown>([[HDR_ALG, COSE_A256GCM], [HDR_KID, keyCommitment], [HDR_KID_CONTEXT, keyId]]));
}

/** external_aad: the reading's clear fields and the chain, so a sealed body cannot move to another reading. */
export function sealedExternalAad(chainId: string, meterId: string, seq: bigint, time: number): Uint8Array {
  return encodeCbor([`${CONFIDENTIAL_V1}/reading`, chainId, TxType.Reading, meterId, seq, time]);
}

/** RFC 9052 §5.3 Enc_structure for COSE_Encrypt0: the AES-GCM additional data. */
export function encStructure(protectedBytes: Uint8Array, externalAad: Uint8Array): Uint8Array {
  return encodeCbor(['Encrypt0', protectedBytes, externalAad]);
}

// -------------------------------------------------------------------- encode / decode

export function encodeSealedReadingBody(r: SealedReading): Uint8Array {
  const enc0 = [r.sealed.protectedBytes, new Map([[HDR_IV, r.sealed.iv]]), r.sealed.ciphertext];
  return encodeCbor(new Map<number, unknown>([[0, TxType.Reading], [1, r.meterId], [2, r.seq], [3, r.time], [SEALED_LABEL, enc0]]));
}

const bstr = (v: unknown, len: number, what: string, field: string): Uint8Array => {
  if (!(v instanceof Uint8Array) || v.length !== len) throw malformed(`${what} must be a bstr of ${len} bytes`, field);
  return v;
};

/**
 * The COSE_Encrypt0 of label 12, checked without a key: the shape, alg A256GCM, a 32-byte
 * kid and 16-byte kid context, the IV of `seq` (the nonce rule, §11.5) and a 48-byte
 * ciphertext. Anything else is E_CONF_MALFORMED naming the field.
 */
export function sealedFieldsFrom(v: unknown, seq: bigint): SealedFields {
  if (!Array.isArray(v) || v.length !== 3) throw malformed('sealed (label 12) must be a COSE_Encrypt0: an array of 3', 'sealed');
  const [prot, unprot, ct] = v as unknown[];
  if (!(prot instanceof Uint8Array)) throw malformed('protected header must be a bstr', 'protected');
  const fields = isSealedHeaderLayout(prot) ? { keyCommitment: prot.subarray(6, 38), keyId: prot.subarray(40, 56) } : headerFields(prot);
  if (!(unprot instanceof Map) || unprot.size !== 1 || !unprot.has(HDR_IV)) throw malformed('unprotected header must be exactly {5: IV}', 'unprotected');
  const iv = bstr(unprot.get(HDR_IV), IV_BYTES, 'IV', 'iv');
  // §11.5: the IV is a function of seq, so a validator sees any departure without a key.
  if (!isReadingIv(iv, seq)) throw malformed('IV must be 00000000 || seq as a big-endian uint64 (§11.5)', 'iv');
  const ciphertext = bstr(ct, SEALED_CIPHERTEXT_BYTES, 'ciphertext (padded plaintext and tag)', 'ciphertext');
  return { protectedBytes: prot, ...fields, iv, ciphertext };
}

const isReadingIv = (iv: Uint8Array, seq: bigint): boolean =>
  iv[0] === 0 && iv[1] === 0 && iv[2] === 0 && iv[3] === 0 && new DataView(iv.buffer, iv.byteOffset, 12).getBigUint64(4) === seq;

/**
 * The one valid protected header has one encoding (RFC 8949 §4.2.1), so its bytes are
 * checked in place on the hot path: a3 01 03 04 5820 <kid 32> 0a 50 <kid context 16>.
 */
function isSealedHeaderLayout(p: Uint8Array): boolean {
  return p.length === 56 && p[0] === 0xa3 && p[1] === HDR_ALG && p[2] === COSE_A256GCM && p[3] === HDR_KID && p[4] === 0x58
    && p[5] === KEY_COMMITMENT_BYTES && p[38] === HDR_KID_CONTEXT && p[39] === 0x40 + KEY_ID_BYTES;
}

/** Any other protected header, decoded to say precisely what is wrong with it. */
function headerFields(prot: Uint8Array): { keyCommitment: Uint8Array; keyId: Uint8Array } {
  let hdr: unknown;
  try {
    hdr = decodeCanonicalCbor(prot);
  } catch (cause) {
    throw malformed('protected header is not deterministic CBOR', 'protected', cause);
  }
  if (!(hdr instanceof Map) || hdr.size !== 3 || !hdr.has(HDR_ALG) || !hdr.has(HDR_KID) || !hdr.has(HDR_KID_CONTEXT)) {
    throw malformed('protected header must be exactly {1: alg, 4: kid, 10: kid context}', 'protected');
  }
  if (hdr.get(HDR_ALG) !== COSE_A256GCM) throw malformed(`alg must be ${COSE_A256GCM} (A256GCM)`, 'alg');
  const keyCommitment = bstr(hdr.get(HDR_KID), KEY_COMMITMENT_BYTES, 'kid (the key commitment)', 'kid');
  const keyId = bstr(hdr.get(HDR_KID_CONTEXT), KEY_ID_BYTES, 'kid context (the period key id)', 'kidContext');
  return { keyCommitment, keyId };
}

/**
 * A sealed reading from a decoded payload map whose type (label 0) is 1 and which carries
 * label 12. The hook for decodeTxBody: a reading is clear (labels 4-6) or sealed (label
 * 12), never both; a mix is E_READING_SCHEMA, like any label out of place.
 */
export function sealedReadingFromMap(m: Map<unknown, unknown>): SealedReading {
  if (m.get(0) !== TxType.Reading) throw schema('type (label 0) must be 1 for a reading', 'type');
  for (const k of m.keys()) {
    if (k === 4 || k === 5 || k === 6) throw schema(`a reading is clear (labels 4-6) or sealed (label ${SEALED_LABEL}), never both: label ${k} found`, 'sealed');
    if (k !== 0 && k !== 1 && k !== 2 && k !== 3 && k !== SEALED_LABEL) throw schema(`label ${String(k)} is not allowed in a sealed reading`, 'payload');
  }
  if (!m.has(SEALED_LABEL)) throw schema(`sealed (label ${SEALED_LABEL}) is required`, 'sealed');
  const clear = readingClearFields(m);
  return { type: TxType.Reading, ...clear, sealed: sealedFieldsFrom(m.get(SEALED_LABEL), clear.seq) };
}

export function decodeSealedReadingBody(payload: Uint8Array): SealedReading {
  return sealedReadingFromMap(decodePayloadMap(payload));
}

/** Does this payload map hold a sealed reading (label 12)? What decodeTxBody asks first. */
export function isSealedReadingMap(m: Map<unknown, unknown>): boolean {
  return m.get(0) === TxType.Reading && m.has(SEALED_LABEL);
}

/** Decode sealed reading transaction bytes: size, envelope, payload; not the signature (as decodeTx). */
export function decodeSealedReadingTx(bytes: Uint8Array, maxBytes = MAX_TX_BYTES): SignedSealedReading {
  return decodeMeterSigned(bytes, maxBytes, decodeSealedReadingBody);
}

// ------------------------------------------------------------------- seal (meter side)

/** Seal a clear reading under a period key: deterministic (no randomness: the IV comes from seq). */
export function sealReading(chainId: string, schedule: PeriodKeySchedule, reading: Reading): SealedReading {
  if (reading.meterId !== schedule.meterId) throw new TypeError(`period key of meter ${schedule.meterId} cannot seal a reading of ${reading.meterId}`);
  const ck = contentKeyOf(schedule, reading.seq, reading.time);
  const keyCommitment = keyCommitmentOf(ck);
  const protectedBytes = encodeSealedProtectedHeader(keyCommitment, schedule.keyId);
  const iv = readingIv(reading.seq);
  const aad = encStructure(protectedBytes, sealedExternalAad(chainId, reading.meterId, reading.seq, reading.time));
  const ciphertext = gcm(aeadKeyOf(ck), iv, aad).encrypt(encodeMeasuredValues(reading));
  return {
    type: TxType.Reading, meterId: reading.meterId, seq: reading.seq, time: reading.time,
    sealed: { protectedBytes, keyId: schedule.keyId, keyCommitment, iv, ciphertext },
  };
}

/** Sign a sealed reading into transaction bytes with the meter's key (COSE_Sign1, as signTx). */
export function signSealedReading(chainId: string, alg: Alg, secretKey: Uint8Array, body: SealedReading): Uint8Array {
  return signCoseSign1(alg, secretKey, encodeSealedReadingBody(body), chainId);
}

// ---------------------------------------------------------------- open (key holders)

/**
 * Open one sealed reading with its content key (from a disclosure, or derived by a
 * recipient): the key must match the reading's commitment (else E_CONF_BAD_DISCLOSURE_KEY,
 * found before any decryption), then AES-GCM must authenticate (else E_CONF_AUTH_FAILED).
 * Returns the clear reading, exactly as if it had been sent in the clear.
 */
export function openSealedReading(chainId: string, r: SealedReading, contentKey: Uint8Array): Reading {
  if (contentKey.length !== 32 || !equalBytes(keyCommitmentOf(contentKey), r.sealed.keyCommitment)) {
    throw new RejectionError(ReasonCode.CONF_BAD_DISCLOSURE_KEY, `the key is not the content key of ${r.meterId} seq ${r.seq} (its commitment differs)`, 'contentKey');
  }
  const aad = encStructure(r.sealed.protectedBytes, sealedExternalAad(chainId, r.meterId, r.seq, r.time));
  let pt: Uint8Array;
  try {
    pt = gcm(aeadKeyOf(contentKey), r.sealed.iv, aad).decrypt(r.sealed.ciphertext);
  } catch (cause) {
    throw new RejectionError(ReasonCode.CONF_AUTH_FAILED, `AES-GCM authentication failed for ${r.meterId} seq ${r.seq}: ciphertext, tag or clear fields altered`, 'ciphertext', { cause });
  }
  return { type: TxType.Reading, meterId: r.meterId, seq: r.seq, time: r.time, ...decodeMeasuredValues(pt) };
}

/**
 * A recipient's decryption with the period key: the reading must be under this period
 * key (E_CONF_UNKNOWN_KEY otherwise) and its commitment must be that of the content key
 * the period key gives (E_CONF_KEY_MISMATCH otherwise: the meter used another key).
 */
export function decryptReading(chainId: string, schedule: PeriodKeySchedule, r: SealedReading): Reading {
  if (r.meterId !== schedule.meterId || !equalBytes(r.sealed.keyId, schedule.keyId)) {
    throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `${r.meterId} seq ${r.seq} is not sealed under period key ${toHex(schedule.keyId)} of ${schedule.meterId}`, 'kidContext');
  }
  const ck = contentKeyOf(schedule, r.seq, r.time);
  if (!equalBytes(keyCommitmentOf(ck), r.sealed.keyCommitment)) {
    throw new RejectionError(ReasonCode.CONF_KEY_MISMATCH, `${r.meterId} seq ${r.seq} commits to a key the period key does not give`, 'kid');
  }
  return openSealedReading(chainId, r, ck);
}

// --------------------------------------------------------------- keyless validator checks

/**
 * RFC 5116 §3 / NIST SP 800-38D §8: one (key, nonce) pair for one message only. Two sealed
 * readings of a meter with the same kid (so the same content key: the kid commits to it)
 * and the same IV (so the same seq) that differ in any byte reuse a GCM nonce; identical
 * bytes are a plain resend. Needs no key.
 */
export function isNonceReuse(earlier: SealedReading, later: SealedReading): boolean {
  const a = earlier.sealed;
  const b = later.sealed;
  if (earlier.meterId !== later.meterId || !equalBytes(a.keyCommitment, b.keyCommitment) || !equalBytes(a.iv, b.iv)) return false;
  return !(earlier.seq === later.seq && earlier.time === later.time && equalBytes(a.protectedBytes, b.protectedBytes) && equalBytes(a.ciphertext, b.ciphertext));
}

/** Refuse `later` with E_CONF_NONCE_REUSED when it reuses the key and nonce of `earlier`. */
export function checkNonceReuse(earlier: SealedReading, later: SealedReading): void {
  if (isNonceReuse(earlier, later)) {
    throw new RejectionError(ReasonCode.CONF_NONCE_REUSED, `${later.meterId} seq ${later.seq} reuses the content key and IV of an earlier reading for other bytes`, 'iv');
  }
}

/** A confidential meter sends only sealed readings, a clear meter only clear ones (E_CONF_MODE_MISMATCH). */
export function checkReadingMode(meterIsConfidential: boolean, readingIsSealed: boolean): void {
  if (meterIsConfidential !== readingIsSealed) {
    throw new RejectionError(
      ReasonCode.CONF_MODE_MISMATCH,
      meterIsConfidential ? 'this meter is registered as confidential: its readings must be sealed (label 12)' : 'this meter is not confidential: its readings are sent in the clear',
      'sealed',
    );
  }
}
