/**
 * The period key transaction (docs/protocol.md §11.6): a meter publishes each period's
 * key wrapped with HPKE (./hpke.ts) to every recipient registered for it. The body is a
 * deterministic CBOR map in the labels of protocols/tx.ts:
 *
 *   label  field       type
 *   0      type        5
 *   1      meterId     tstr
 *   3      time (ms)   uint
 *   13     period      tstr   (caller's id, e.g. "2026-11")
 *   14     keyId       bstr 16 (schedule.ts: the id readings name as kid context)
 *   15     recipients  [+ [recipientId tstr, enc bstr, ciphertext bstr 48]], sorted by id, unique
 *
 * Each entry is SealBase(pkR, info, aad = "", periodKey) with
 *   info = CBOR ["meterledger/confidential/v1/period-key", chainId, meterId, period, keyId, recipientId]
 * so an entry opens only for its recipient, chain, meter, period and key id.
 * Signed by the meter as a COSE_Sign1 (no kid); its ledger rules come with the ledger.
 */
import { encodeCbor } from '../cbor.js';
import { signCoseSign1 } from '../cose.js';
import { equalBytes, toHex } from '../bytes.js';
import { ReasonCode, RejectionError } from '../errors.js';
import type { Alg } from '../keys.js';
import { METER_ID_PATTERN, decodePayloadMap } from '../payload.js';
import { MAX_TX_BYTES } from '../reading.js';
import { type HpkeRecipient, KEM_PUBLIC_KEY_BYTES, Kem, kemPublicKeyProblem, openBase, sealBase } from './hpke.js';
import { RECIPIENT_ID_PATTERN, type RecipientKey, checkRecipientKey } from './recipients.js';
import {
  CONFIDENTIAL_V1, KEY_ID_BYTES, PERIOD_KEY_BYTES, PERIOD_PATTERN, type PeriodKeySchedule, type RandomSource,
  periodKeySchedule,
} from './schedule.js';
import { type MeterSigned, confMalformed, decodeMeterSigned } from './signed.js';

/** The transaction type of a period key (next after tx.ts's 1-4). */
export const PERIOD_KEY_TX_TYPE = 5;
/** At most this many recipients (owner, biller, auditors); the tx size limit applies too. */
export const MAX_RECIPIENTS = 8;
/** A wrapped 32-byte period key: AES-128-GCM ciphertext and tag. */
export const WRAPPED_KEY_BYTES = PERIOD_KEY_BYTES + 16;

const L_PERIOD = 13;
const L_KEY_ID = 14;
const L_RECIPIENTS = 15;

export interface WrappedPeriodKey {
  readonly recipientId: string;
  /** HPKE enc: the ephemeral public key (32 bytes X25519, 65 bytes P-256). */
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface PeriodKeyBody {
  readonly type: typeof PERIOD_KEY_TX_TYPE;
  readonly meterId: string;
  readonly time: number;
  readonly period: string;
  readonly keyId: Uint8Array;
  /** Sorted by recipientId (UTF-8 bytes), no duplicates. */
  readonly recipients: readonly WrappedPeriodKey[];
}

export type SignedPeriodKey = MeterSigned<PeriodKeyBody>;

const malformed = confMalformed;

/** The HPKE info of one wrapped entry. */
export function periodKeyWrapInfo(chainId: string, meterId: string, period: string, keyId: Uint8Array, recipientId: string): Uint8Array {
  return encodeCbor([`${CONFIDENTIAL_V1}/period-key`, chainId, meterId, period, keyId, recipientId]);
}

const byId = (a: { id: string } | { recipientId: string }, b: { id: string } | { recipientId: string }): number => {
  const x = 'id' in a ? a.id : a.recipientId;
  const y = 'id' in b ? b.id : b.recipientId;
  return x < y ? -1 : x > y ? 1 : 0; // ids are ASCII: code-unit order is UTF-8 byte order
};

export interface SealPeriodKeyInput {
  readonly chainId: string;
  readonly meterId: string;
  readonly period: string;
  readonly time: number;
  readonly periodKey: Uint8Array;
  readonly recipients: readonly RecipientKey[];
  /** 32 bytes of HPKE ephemeral input keying material per recipient, asked in id order. */
  readonly random: RandomSource;
}

/** Wrap a period key to its recipients (meter side). Deterministic given `random`. */
export function sealPeriodKey(x: SealPeriodKeyInput): PeriodKeyBody {
  if (!PERIOD_PATTERN.test(x.period)) throw new TypeError('period must match [A-Za-z0-9][A-Za-z0-9._:-]{0,31}');
  if (x.recipients.length < 1 || x.recipients.length > MAX_RECIPIENTS) throw new TypeError(`1..${MAX_RECIPIENTS} recipients`);
  const sorted = [...x.recipients].sort(byId);
  sorted.forEach((r, i) => {
    checkRecipientKey(r);
    if (i > 0 && sorted[i - 1]!.id === r.id) throw new TypeError(`recipient ${r.id} is listed twice`);
  });
  const { keyId } = periodKeySchedule(x.periodKey, x.meterId, x.period);
  const recipients = sorted.map((r): WrappedPeriodKey => {
    const info = periodKeyWrapInfo(x.chainId, x.meterId, x.period, keyId, r.id);
    const { enc, ct } = sealBase(r.kem, r.publicKey, info, new Uint8Array(0), x.periodKey, x.random(32));
    return { recipientId: r.id, enc, ciphertext: ct };
  });
  return { type: PERIOD_KEY_TX_TYPE, meterId: x.meterId, time: x.time, period: x.period, keyId, recipients };
}

export function encodePeriodKeyBody(b: PeriodKeyBody): Uint8Array {
  return encodeCbor(new Map<number, unknown>([
    [0, PERIOD_KEY_TX_TYPE], [1, b.meterId], [3, b.time], [L_PERIOD, b.period], [L_KEY_ID, b.keyId],
    [L_RECIPIENTS, b.recipients.map((r) => [r.recipientId, r.enc, r.ciphertext])],
  ]));
}

/** A period key body from a decoded payload map of type 5 (the hook for decodeTxBody). */
export function periodKeyBodyFromMap(m: Map<unknown, unknown>): PeriodKeyBody {
  if (m.get(0) !== PERIOD_KEY_TX_TYPE) throw malformed(`type (label 0) must be ${PERIOD_KEY_TX_TYPE}`, 'type');
  for (const k of m.keys()) {
    if (k !== 0 && k !== 1 && k !== 3 && k !== L_PERIOD && k !== L_KEY_ID && k !== L_RECIPIENTS) throw malformed(`label ${String(k)} is not allowed in a period key`, 'payload');
  }
  const meterId = m.get(1);
  if (typeof meterId !== 'string' || !METER_ID_PATTERN.test(meterId)) throw malformed('meterId (label 1) must match the meter id pattern', 'meterId');
  const time = m.get(3);
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) throw malformed('time (label 3) must be an unsigned integer below 2^53', 'time');
  const period = m.get(L_PERIOD);
  if (typeof period !== 'string' || !PERIOD_PATTERN.test(period)) throw malformed('period (label 13) must match [A-Za-z0-9][A-Za-z0-9._:-]{0,31}', 'period');
  const keyId = m.get(L_KEY_ID);
  if (!(keyId instanceof Uint8Array) || keyId.length !== KEY_ID_BYTES) throw malformed(`keyId (label 14) must be a bstr of ${KEY_ID_BYTES} bytes`, 'keyId');
  const list = m.get(L_RECIPIENTS);
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_RECIPIENTS) throw malformed(`recipients (label 15) must be an array of 1..${MAX_RECIPIENTS}`, 'recipients');
  const recipients = list.map((e: unknown, i): WrappedPeriodKey => {
    if (!Array.isArray(e) || e.length !== 3) throw malformed(`recipient ${i} must be [id, enc, ciphertext]`, 'recipients');
    const [recipientId, enc, ciphertext] = e as unknown[];
    if (typeof recipientId !== 'string' || !RECIPIENT_ID_PATTERN.test(recipientId)) throw malformed(`recipient ${i}: id must match the recipient id pattern`, 'recipientId');
    if (!(enc instanceof Uint8Array)) throw malformed(`recipient ${recipientId}: enc must be a bstr`, 'enc');
    const kem = enc.length === KEM_PUBLIC_KEY_BYTES[Kem.X25519] ? Kem.X25519 : Kem.P256;
    const problem = kemPublicKeyProblem(kem, enc);
    if (problem) throw malformed(`recipient ${recipientId}: enc: ${problem}`, 'enc');
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== WRAPPED_KEY_BYTES) throw malformed(`recipient ${recipientId}: ciphertext must be a bstr of ${WRAPPED_KEY_BYTES} bytes`, 'ciphertext');
    return { recipientId, enc, ciphertext };
  });
  for (let i = 1; i < recipients.length; i++) {
    if (byId(recipients[i - 1]!, recipients[i]!) >= 0) throw malformed('recipients must be sorted by id, without duplicates', 'recipients');
  }
  return { type: PERIOD_KEY_TX_TYPE, meterId, time, period, keyId, recipients };
}

export function decodePeriodKeyBody(payload: Uint8Array): PeriodKeyBody {
  return periodKeyBodyFromMap(decodePayloadMap(payload));
}

export function signPeriodKey(chainId: string, alg: Alg, secretKey: Uint8Array, body: PeriodKeyBody): Uint8Array {
  return signCoseSign1(alg, secretKey, encodePeriodKeyBody(body), chainId);
}

export function decodePeriodKeyTx(bytes: Uint8Array, maxBytes = MAX_TX_BYTES): SignedPeriodKey {
  return decodeMeterSigned(bytes, maxBytes, decodePeriodKeyBody);
}

/**
 * The keyless check every validator makes (§11.6): the entries are exactly the recipient
 * keys registered for the meter (none missing, none extra) and each enc is of its key's
 * KEM. Whether each ciphertext really holds the period key only its recipient can tell.
 */
export function checkPeriodKeyRecipients(body: PeriodKeyBody, registered: readonly RecipientKey[]): void {
  const want = new Map(registered.map((r) => [r.id, r]));
  const have = new Set(body.recipients.map((r) => r.recipientId));
  const missing = [...want.keys()].filter((id) => !have.has(id));
  const extra = [...have].filter((id) => !want.has(id));
  if (missing.length || extra.length || want.size !== registered.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `not registered ${extra.join(', ')}` : ''].filter(Boolean);
    throw new RejectionError(ReasonCode.CONF_WRONG_RECIPIENTS, `period key ${body.period} of ${body.meterId} is wrapped to the wrong recipients: ${parts.join('; ') || 'duplicate registration'}`, 'recipients');
  }
  for (const e of body.recipients) {
    const r = want.get(e.recipientId)!;
    if (e.enc.length !== KEM_PUBLIC_KEY_BYTES[r.kem]) {
      throw new RejectionError(ReasonCode.CONF_WRONG_RECIPIENTS, `entry for ${e.recipientId} is not for its registered ${r.kem === Kem.X25519 ? 'X25519' : 'P-256'} key`, 'enc');
    }
  }
}

/**
 * Open a period key as one of its recipients: find the entry (E_CONF_NOT_RECIPIENT),
 * HPKE-open it (E_CONF_AUTH_FAILED) and check the key against the id readings name
 * (E_CONF_KEY_MISMATCH: the meter wrapped another key to this recipient).
 */
export async function openPeriodKey(chainId: string, body: PeriodKeyBody, recipientId: string, recipient: HpkeRecipient): Promise<PeriodKeySchedule> {
  const e = body.recipients.find((r) => r.recipientId === recipientId);
  if (!e) throw new RejectionError(ReasonCode.CONF_NOT_RECIPIENT, `${recipientId} is not a recipient of period key ${body.period} of ${body.meterId}`, 'recipientId');
  if (e.enc.length !== KEM_PUBLIC_KEY_BYTES[recipient.kem]) {
    throw new RejectionError(ReasonCode.CONF_NOT_RECIPIENT, `the entry for ${recipientId} is not for a ${recipient.kem === Kem.X25519 ? 'X25519' : 'P-256'} key`, 'enc');
  }
  const info = periodKeyWrapInfo(chainId, body.meterId, body.period, body.keyId, recipientId);
  const periodKey = await openBase(e.enc, recipient, info, new Uint8Array(0), e.ciphertext);
  if (periodKey.length !== PERIOD_KEY_BYTES) throw malformed(`the wrapped period key is ${periodKey.length} bytes, not ${PERIOD_KEY_BYTES}`, 'ciphertext');
  const schedule = periodKeySchedule(periodKey, body.meterId, body.period);
  if (!equalBytes(schedule.keyId, body.keyId)) {
    throw new RejectionError(ReasonCode.CONF_KEY_MISMATCH, `the key wrapped to ${recipientId} is not period key ${toHex(body.keyId)}`, 'keyId');
  }
  return schedule;
}
