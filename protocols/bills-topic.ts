/**
 * What a meter sees of billing over MQTT (docs/protocol.md §8.7): its bills and the
 * outcome of each payment on `meters/<id>/bills`, and the payments it signs, published on
 * `meters/<id>/payments`. Messages on the bills topic are deterministic-CBOR maps with
 * text keys, like the receipts topic's.
 */
import { decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { ProtocolError } from './errors.js';

export const billsTopic = (meterId: string): string => `meters/${meterId}/bills`;
export const paymentsTopic = (meterId: string): string => `meters/${meterId}/payments`;

/** A committed bill of the meter. */
export interface BillMessage {
  readonly kind: 'bill';
  readonly meterId: string;
  readonly period: string;
  /** The period [start, end), ms. */
  readonly start: number;
  readonly end: number;
  /** Minor units of `currency`; 0 or negative: nothing is due (docs/billing.md §17). */
  readonly total: bigint;
  readonly currency: string;
  readonly minorUnits: number;
  /** The account that pays and the one paid. */
  readonly account: string;
  readonly payee: string;
  /** Height of the block holding the bill. */
  readonly height: number;
  /** SHA-256 of `tx`. */
  readonly txHash: Uint8Array;
  /** The bill transaction as committed (COSE_Sign1, docs/billing.md §13, §17), for checking the biller's signature. */
  readonly tx: Uint8Array;
  /** Autopay at issue (§19.4): "paid", or the code it was refused with; absent: not attempted. */
  readonly autopay?: string;
}

/**
 * What became of a payment of a bill of the meter: paid when its block committed, or
 * refused, at submission or (the same message) when a later block made the accepted
 * payment invalid before its commit (docs/billing.md §19.5).
 */
export type PaymentMessage =
  | {
    readonly kind: 'payment'; readonly status: 'paid'; readonly meterId: string; readonly period: string; readonly amount: bigint;
    readonly by: 'meter' | 'owner' | 'autopay'; readonly height: number; readonly txHash: Uint8Array;
  }
  | {
    readonly kind: 'payment'; readonly status: 'refused'; readonly meterId: string; readonly period?: string;
    readonly code: string; readonly message: string; readonly txHash: Uint8Array;
  };

export type BillsTopicMessage = BillMessage | PaymentMessage;

export function encodeBillsTopicMessage(m: BillsTopicMessage): Uint8Array {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v;
  return encodeCbor(out);
}

export function decodeBillsTopicMessage(bytes: Uint8Array): BillsTopicMessage {
  const bad = (msg: string): never => {
    throw new ProtocolError('E_BILLS_MESSAGE_MALFORMED', msg);
  };
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new ProtocolError('E_BILLS_MESSAGE_MALFORMED', 'message is not deterministic CBOR', { cause });
  }
  if (!(m instanceof Map)) return bad('message must be a map');
  const str = (k: string, optional = false): string | undefined => {
    const v = m.get(k);
    if (v === undefined && optional) return undefined;
    return typeof v === 'string' ? v : bad(`${k} must be a text string`);
  };
  const uint = (k: string): number => {
    const v = m.get(k);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(`${k} must be an unsigned integer`);
  };
  const int = (k: string): bigint => {
    const v = m.get(k);
    return typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v)) ? BigInt(v) : bad(`${k} must be an integer`);
  };
  const bytesOf = (k: string): Uint8Array => {
    const v = m.get(k);
    return v instanceof Uint8Array ? v : bad(`${k} must be a byte string`);
  };
  const txHash = bytesOf('txHash');
  if (txHash.length !== 32) bad('txHash must be 32 bytes');
  if (m.get('kind') === 'bill') {
    const autopay = str('autopay', true);
    return {
      kind: 'bill', meterId: str('meterId')!, period: str('period')!, start: uint('start'), end: uint('end'), total: int('total'),
      currency: str('currency')!, minorUnits: uint('minorUnits'), account: str('account')!, payee: str('payee')!, height: uint('height'),
      txHash, tx: bytesOf('tx'), ...(autopay !== undefined ? { autopay } : {}),
    };
  }
  if (m.get('kind') !== 'payment') return bad('kind must be "bill" or "payment"');
  if (m.get('status') === 'paid') {
    const by = str('by');
    if (by !== 'meter' && by !== 'owner' && by !== 'autopay') return bad('by must be meter, owner or autopay');
    return { kind: 'payment', status: 'paid', meterId: str('meterId')!, period: str('period')!, amount: int('amount'), by, height: uint('height'), txHash };
  }
  if (m.get('status') !== 'refused') return bad('status must be "paid" or "refused"');
  const period = str('period', true);
  return { kind: 'payment', status: 'refused', meterId: str('meterId')!, ...(period !== undefined ? { period } : {}), code: str('code')!, message: str('message')!, txHash };
}
