/**
 * Transactions: what goes into blocks. Every transaction is a COSE_Sign1 (./cose.ts) whose
 * payload is a deterministic-CBOR map with small integer labels (compact for meters):
 *
 *   label  field       reading  register  rotate  revoke
 *   0      type        1        2         3       4
 *   1      meter id    tstr     tstr      tstr    tstr
 *   2      seq         uint64   -         -       -
 *   3      time (ms)   uint     uint      uint    uint
 *   4      import Wh   uint     -         -       -
 *   5      export Wh   ?uint    -         -       -
 *   6      power W     ?int     -         -       -
 *   7      key alg     -        int       int     -
 *   8      public key  -        bstr      bstr    -
 *   9      owner       -        ?tstr     -       -
 *   10     xmpp jid    -        ?tstr     -       -
 *   11     key epoch   -        -         uint    -
 *   12     sealed      (a sealed reading carries 12 instead of 4-6: protocols/confidential)
 *   16     recipients  -        ?array    -       -      (a confidential meter's recipient keys, §11.2)
 *
 * A reading is signed by the meter's key; the others by an operator key named by `kid`.
 */
import { encodeCbor } from './cbor.js';
import { type CoseSign1, decodeCoseSign1, signCoseSign1 } from './cose.js';
import { ReasonCode, RejectionError } from './errors.js';
import { equalBytes, toHex } from './bytes.js';
import { sha256 } from './hash.js';
import type { Alg } from './keys.js';
import {
  LARGEST_TX_BYTES, type LedgerTxBody, LedgerTxType, decodeLedgerTxBody, encodeLedgerTxBody, isLedgerTxBody, isLedgerTxType, txSizeLimit,
} from './billing/txs.js';
import { METER_ID_PATTERN, decodePayloadMap, idField, keyFields, schema, text, uint } from './payload.js';
import { MAX_TX_BYTES, READING_TYPE, type Reading, readingClearFields, seqField } from './reading.js';

export { MAX_TX_BYTES, type Reading, readingClearFields };
import { PERIOD_KEY_TX_TYPE, type PeriodKeyBody, encodePeriodKeyBody, periodKeyBodyFromMap } from './confidential/period-key.js';
import { type RecipientKey, recipientKeysFrom } from './confidential/recipients.js';
import { type SealedReading, encodeSealedReadingBody, isSealedReadingMap, sealedReadingFromMap } from './confidential/sealed-reading.js';
import { VALSET_MAX_TX_BYTES, VALSET_TX_TYPE, type ValidatorSetTxBody, decodeValidatorSetTxBody, encodeValidatorSetTxBody } from './validator-set.js';

export { METER_ID_PATTERN, decodePayloadMap };

/** The registry of protocols/state.ts: 1-4 here, 5 in ./confidential, 6-19 in ./billing/txs.ts. */
export const TxType = { Reading: READING_TYPE, MeterRegister: 2, MeterRotate: 3, MeterRevoke: 4, ...LedgerTxType } as const;
export type TxType = (typeof TxType)[keyof typeof TxType];

export const MAX_SEQ = 2n ** 64n - 1n;

export interface MeterRegister {
  readonly type: typeof TxType.MeterRegister;
  readonly meterId: string;
  readonly time: number;
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly owner?: string;
  readonly jid?: string;
  /**
   * Present: the meter is confidential (docs/protocol.md §11.2) and wraps each period key
   * to exactly these recipient keys, sorted by id.
   */
  readonly recipients?: readonly RecipientKey[];
}

export interface MeterRotate {
  readonly type: typeof TxType.MeterRotate;
  readonly meterId: string;
  readonly time: number;
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  /** The key's new epoch: exactly one above the current (registration is epoch 0). */
  readonly keyEpoch: number;
}

export interface MeterRevoke {
  readonly type: typeof TxType.MeterRevoke;
  readonly meterId: string;
  readonly time: number;
}

/** The transactions of meters and their registry (types 1-4, this file). */
export type MeterTxBody = Reading | MeterRegister | MeterRotate | MeterRevoke;
/** A confidential meter's transactions (./confidential): a sealed reading (type 1, label 12) and a period key (type 5). */
export type ConfidentialTxBody = SealedReading | PeriodKeyBody;
/** Every transaction decodeAnyTx decodes: 1-4, 5 and sealed readings, the ledger's 6-19 (./billing/txs.ts), the validator set's 20 (./validator-set.ts). */
export type TxBody = MeterTxBody | ConfidentialTxBody | LedgerTxBody | ValidatorSetTxBody;
export type OperatorTxBody = MeterRegister | MeterRotate | MeterRevoke;

/** A transaction with its exact bytes, its hash (SHA-256 of the bytes) and parsed parts. */
export interface SignedTx<B extends TxBody = MeterTxBody> {
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  /** `hash` in hex, made once: the key of a transaction in every map that holds it. */
  readonly hashHex: string;
  readonly cose: CoseSign1;
  readonly body: B;
}

function meterId(m: Map<unknown, unknown>): string {
  return idField(m, 1, 'meterId');
}

const ALLOWED_LABELS: Record<MeterTxBody['type'], readonly number[]> = {
  [TxType.Reading]: [0, 1, 2, 3, 4, 5, 6],
  [TxType.MeterRegister]: [0, 1, 3, 7, 8, 9, 10, 16],
  [TxType.MeterRotate]: [0, 1, 3, 7, 8, 11],
  [TxType.MeterRevoke]: [0, 1, 3],
};

/** Parse a payload into a body of any type 1-20 (a sealed reading too); throws RejectionError(E_READING_SCHEMA) naming the field. */
export function decodeAnyTxBody(payload: Uint8Array): TxBody {
  const m = decodePayloadMap(payload);
  if (isLedgerTxType(m.get(0))) return decodeLedgerTxBody(m);
  if (m.get(0) === PERIOD_KEY_TX_TYPE) return periodKeyBodyFromMap(m);
  if (m.get(0) === VALSET_TX_TYPE) return decodeValidatorSetTxBody(m);
  if (isSealedReadingMap(m)) return sealedReadingFromMap(m);
  return meterTxBody(m);
}

/**
 * Parse a payload into a body of type 1-4: what a node that does not apply the ledger's
 * types 6-19 accepts (those are E_READING_SCHEMA here; decodeAnyTxBody takes them).
 */
export function decodeTxBody(payload: Uint8Array): MeterTxBody {
  return meterTxBody(decodePayloadMap(payload));
}

function meterTxBody(m: Map<unknown, unknown>): MeterTxBody {
  const type = m.get(0) as MeterTxBody['type'];
  const allowed = typeof type === 'number' && type >= 1 && type <= 4 ? ALLOWED_LABELS[type] : undefined; // not "1", not "constructor"
  if (allowed === undefined) {
    throw schema(isLedgerTxType(type) ? `type ${type} is a ledger transaction (docs/billing.md §13): decodeAnyTx takes it` : 'type (label 0) must be 1, 2, 3 or 4', 'type');
  }
  for (const k of m.keys()) {
    if (typeof k !== 'number' || !allowed.includes(k)) throw schema(`label ${String(k)} is not allowed for type ${type}`, 'payload');
  }
  const id = meterId(m);
  const time = uint(m, 3, 'time')!;
  switch (type) {
    case TxType.Reading: {
      const r: { -readonly [K in keyof Reading]: Reading[K] } = {
        type, meterId: id, seq: seqField(m), time, importWh: uint(m, 4, 'importWh')!,
      };
      const exp = uint(m, 5, 'exportWh', true);
      if (exp !== undefined) r.exportWh = exp;
      const p = m.get(6);
      if (p !== undefined) {
        if (typeof p !== 'number' || !Number.isSafeInteger(p)) throw schema('powerW (label 6) must be an integer', 'powerW');
        r.powerW = p;
      }
      return r;
    }
    case TxType.MeterRegister: {
      const r: { -readonly [K in keyof MeterRegister]: MeterRegister[K] } = { type, meterId: id, time, ...keyFields(m) };
      const owner = text(m, 9, 'owner', true, 128);
      if (owner !== undefined) r.owner = owner;
      const jid = text(m, 10, 'jid', true, 3071);
      if (jid !== undefined) r.jid = jid;
      if (m.has(16)) r.recipients = recipientKeysFrom(m.get(16));
      return r;
    }
    case TxType.MeterRotate: {
      const keyEpoch = uint(m, 11, 'keyEpoch')!;
      if (keyEpoch < 1) throw schema('keyEpoch must be at least 1', 'keyEpoch');
      return { type, meterId: id, time, ...keyFields(m), keyEpoch };
    }
    case TxType.MeterRevoke:
      return { type, meterId: id, time };
  }
}

/** Encode a body into the payload map (the inverse of decodeTxBody). */
export function encodeTxBody(body: TxBody): Uint8Array {
  if (isLedgerTxBody(body)) return encodeLedgerTxBody(body);
  if (body.type === PERIOD_KEY_TX_TYPE) return encodePeriodKeyBody(body);
  if (body.type === VALSET_TX_TYPE) return encodeValidatorSetTxBody(body);
  if ('sealed' in body) return encodeSealedReadingBody(body);
  const m = new Map<number, unknown>([[0, body.type], [1, body.meterId], [3, body.time]]);
  switch (body.type) {
    case TxType.Reading:
      m.set(2, body.seq);
      m.set(4, body.importWh);
      if (body.exportWh !== undefined) m.set(5, body.exportWh);
      if (body.powerW !== undefined) m.set(6, body.powerW);
      break;
    case TxType.MeterRegister:
      m.set(7, body.alg).set(8, body.publicKey);
      if (body.owner !== undefined) m.set(9, body.owner);
      if (body.jid !== undefined) m.set(10, body.jid);
      if (body.recipients !== undefined) m.set(16, body.recipients.map((r) => [r.id, r.kem, r.publicKey]));
      break;
    case TxType.MeterRotate:
      m.set(7, body.alg).set(8, body.publicKey).set(11, body.keyEpoch);
      break;
    case TxType.MeterRevoke:
      break;
  }
  return encodeCbor(m);
}

/**
 * Decode transaction bytes: size, envelope, payload schema. Does not check the signature
 * (that needs the signer's key from state) nor sequence or time (they need state and a clock).
 */
export function decodeTx(bytes: Uint8Array, maxBytes = MAX_TX_BYTES): SignedTx {
  if (bytes.length > maxBytes) {
    throw new RejectionError(ReasonCode.TOO_LARGE, `transaction of ${bytes.length} bytes exceeds ${maxBytes}`);
  }
  const cose = decodeCoseSign1(bytes);
  return signed(bytes, cose, decodeTxBody(cose.payload));
}

function signed<B extends TxBody>(bytes: Uint8Array, cose: CoseSign1, body: B): SignedTx<B> {
  if (body.type === TxType.Reading && cose.kid !== undefined) {
    throw new RejectionError(ReasonCode.MALFORMED, 'a reading carries no kid: the meter id names its key', 'kid');
  }
  const hash = sha256(bytes);
  return { bytes, hash, hashHex: toHex(hash), cose, body };
}

/** decodeTx for every type 1-4 and 6-19 (docs/billing.md §13): each type's own size limit (§13.2). */
export function decodeAnyTx(bytes: Uint8Array, maxBytes = MAX_TX_BYTES): SignedTx<TxBody> {
  // Types with their own larger limit (docs/billing.md §13.2) are measured again once known.
  const outer = Math.max(maxBytes, LARGEST_TX_BYTES);
  if (bytes.length > outer) {
    throw new RejectionError(ReasonCode.TOO_LARGE, `transaction of ${bytes.length} bytes exceeds ${outer}`);
  }
  const cose = decodeCoseSign1(bytes);
  const body = decodeAnyTxBody(cose.payload);
  const limit = body.type === VALSET_TX_TYPE ? Math.max(maxBytes, VALSET_MAX_TX_BYTES) : txSizeLimit(body.type, maxBytes);
  if (bytes.length > limit) {
    throw new RejectionError(ReasonCode.TOO_LARGE, `transaction of type ${body.type} of ${bytes.length} bytes exceeds ${limit}`);
  }
  return signed(bytes, cose, body);
}

/** A reading in the clear (labels 4-6). */
export function isReadingTx(tx: SignedTx<TxBody>): tx is SignedTx<Reading> {
  return tx.body.type === TxType.Reading && !('sealed' in tx.body);
}

/** A sealed reading (label 12, protocols/confidential). */
export function isSealedReadingTx(tx: SignedTx<TxBody>): tx is SignedTx<SealedReading> {
  return tx.body.type === TxType.Reading && 'sealed' in tx.body;
}

/** Any reading, clear or sealed: what has an identity (meterId, seq), a seq rule and a receipt. */
export function isAnyReadingTx(tx: SignedTx<TxBody>): tx is SignedTx<Reading | SealedReading> {
  return tx.body.type === TxType.Reading;
}

/**
 * A reading's identity (docs/protocol.md §3.8): its meter and seq. A block holds at most one
 * reading per identity, and readings are looked up, matched and receipted by it, never by
 * their hash: the same reading may come as other bytes (below).
 */
export const readingKey = (meterId: string, seq: bigint): string => `${meterId}\u0000${seq}`;

/**
 * Whether `a` and `b` are the same reading: the same signed content (protected header and
 * payload, hence meter and seq), whatever their signatures. An ES256 signature (r, s) has a
 * twin (r, n - s) that verifies too, which anyone who sees the reading can make; a meter
 * whose signer is not deterministic signs the same payload differently each time.
 */
export function sameReading(a: SignedTx<TxBody>, b: SignedTx<TxBody>): boolean {
  return isAnyReadingTx(a) && isAnyReadingTx(b) && equalBytes(a.cose.payload, b.cose.payload) && equalBytes(a.cose.protectedBytes, b.cose.protectedBytes);
}

/** Sign a body into transaction bytes. `kid` names the operator for operator transactions. */
export function signTx(chainId: string, alg: Alg, secretKey: Uint8Array, body: TxBody, kid?: string): Uint8Array {
  return signCoseSign1(alg, secretKey, encodeTxBody(body), chainId, kid);
}
