/**
 * The ledger's accounts, money and billing transactions (docs/billing.md §13-20), types
 * 6-19 of the registry in ../state.ts. Each is a COSE_Sign1 like every transaction
 * (docs/protocol.md §3) whose payload is a deterministic-CBOR map of integer labels; one
 * label table for all of them (§13.1), labels 1, 3, 7, 8 and 11 meaning what they mean
 * for meter transactions. A tariff and a bill are carried as their own canonical maps
 * (§3.3, §8.2) inside the payload, so the signed bytes hold exactly one encoding of each.
 */
import { decodeCanonicalCbor, encodeCbor } from '../cbor.js';
import type { Alg } from '../keys.js';
import { type PayloadMap, idField, keyFields, onlyLabels, schema, text, uint } from '../payload.js';
import { type Bill, decodeBill, encodeBill } from './bill.js';
import { type BillDisclosure, billDisclosuresFromCbor, billDisclosuresToCbor } from './disclosure.js';
import { TARIFF_ID_PATTERN, type Tariff, decodeTariff } from './tariff.js';

export const LedgerTxType = {
  AccountOpen: 6, AccountRotate: 7, MeterAssign: 8, Deposit: 9, Withdrawal: 10, TariffPublish: 11, Agreement: 12,
  Bill: 13, Mandate: 14, MandateRevoke: 15, Payment: 16, Dispute: 17, CreditNote: 18, DisputeReject: 19,
} as const;
export type LedgerTxType = (typeof LedgerTxType)[keyof typeof LedgerTxType];

/** Payload labels of types 6-19 (§13.1). */
export const LedgerLabel = {
  type: 0, meterId: 1, time: 3, alg: 7, publicKey: 8, keyEpoch: 11, account: 13, amount: 14, reference: 15, payee: 16,
  meters: 17, capPerBill: 18, capPerMonth: 19, expires: 20, autopay: 21, tariff: 22, from: 23, tariffName: 24, period: 25,
  bill: 26, height: 27, reason: 28, readings: 29, note: 30, disclosures: 31,
} as const;

/** Largest amount, balance or cap: 2^63-1 minor units (fits a signed 64-bit integer). */
export const MAX_AMOUNT = 2n ** 63n - 1n;
/** Size limits of the types larger than genesis `maxTxBytes` allows (§13.2). */
export const TX_SIZE_LIMITS: Readonly<Partial<Record<number, number>>> = { [LedgerTxType.TariffPublish]: 32768, [LedgerTxType.Bill]: 32768 };
export const LARGEST_TX_BYTES = 32768;
export const MAX_MANDATE_METERS = 64;
export const MAX_DISPUTED_READINGS = 64;
export const MAX_REASON_CHARS = 1024;
export const MAX_REFERENCE_CHARS = 128;
export const PERIOD_LABEL_PATTERN = /^(\d{4}-(0[1-9]|1[0-2])|cycle-(0|[1-9]\d{0,14}))$/;

interface Base<T extends LedgerTxType> {
  readonly type: T;
  /** ms since 1970; the replay guard of §13.3 where a rule says so, else informational. */
  readonly time: number;
}
export interface AccountOpen extends Base<typeof LedgerTxType.AccountOpen> { readonly account: string; readonly alg: Alg; readonly publicKey: Uint8Array }
export interface AccountRotate extends Base<typeof LedgerTxType.AccountRotate> {
  readonly account: string; readonly alg: Alg; readonly publicKey: Uint8Array;
  /** Exactly the current epoch + 1 (opening is epoch 0). */
  readonly keyEpoch: number;
}
export interface MeterAssign extends Base<typeof LedgerTxType.MeterAssign> { readonly meterId: string; readonly account: string }
export interface Deposit extends Base<typeof LedgerTxType.Deposit> { readonly account: string; readonly amount: bigint; readonly reference: string }
export interface Withdrawal extends Base<typeof LedgerTxType.Withdrawal> { readonly account: string; readonly amount: bigint; readonly reference: string }
export interface TariffPublish extends Base<typeof LedgerTxType.TariffPublish> { readonly tariff: Tariff }
export interface AgreementSet extends Base<typeof LedgerTxType.Agreement> { readonly meterId: string; readonly from: number; readonly tariff: string | null }
export interface BillIssue extends Base<typeof LedgerTxType.Bill> {
  /** The account the bill is paid to. */
  readonly payee: string;
  /** The committed height whose readings the bill was computed from. */
  readonly height: number;
  readonly bill: Bill;
  /** A confidential meter's bill only: its disclosed readings (./disclosure.ts, §17.2). */
  readonly disclosures?: readonly BillDisclosure[];
}
export interface MandateSet extends Base<typeof LedgerTxType.Mandate> {
  readonly account: string; readonly payee: string;
  /** Meters of the account that may pay, strictly ascending. */
  readonly meters: readonly string[];
  readonly capPerBill: bigint; readonly capPerMonth: bigint;
  /** Instant (ms) from which the mandate no longer authorises anything. */
  readonly expires: number;
  readonly autopay: boolean;
}
export interface MandateRevoke extends Base<typeof LedgerTxType.MandateRevoke> { readonly account: string; readonly payee: string }
export interface Payment extends Base<typeof LedgerTxType.Payment> { readonly meterId: string; readonly period: string; readonly amount: bigint }
export interface Dispute extends Base<typeof LedgerTxType.Dispute> {
  readonly meterId: string; readonly period: string; readonly reason: string;
  /** Seqs of the readings disputed, strictly ascending (may be empty). */
  readonly readings: readonly bigint[];
}
export interface CreditNote extends Base<typeof LedgerTxType.CreditNote> { readonly meterId: string; readonly period: string; readonly amount: bigint; readonly note: string }
export interface DisputeReject extends Base<typeof LedgerTxType.DisputeReject> { readonly meterId: string; readonly period: string; readonly note: string }

export type LedgerTxBody =
  | AccountOpen | AccountRotate | MeterAssign | Deposit | Withdrawal | TariffPublish | AgreementSet | BillIssue
  | MandateSet | MandateRevoke | Payment | Dispute | CreditNote | DisputeReject;

const L = LedgerLabel;
/** The labels each type carries, all required (§13.1). */
export const LEDGER_LABELS: Readonly<Record<LedgerTxType, readonly number[]>> = {
  [LedgerTxType.AccountOpen]: [L.type, L.time, L.alg, L.publicKey, L.account],
  [LedgerTxType.AccountRotate]: [L.type, L.time, L.alg, L.publicKey, L.keyEpoch, L.account],
  [LedgerTxType.MeterAssign]: [L.type, L.meterId, L.time, L.account],
  [LedgerTxType.Deposit]: [L.type, L.time, L.account, L.amount, L.reference],
  [LedgerTxType.Withdrawal]: [L.type, L.time, L.account, L.amount, L.reference],
  [LedgerTxType.TariffPublish]: [L.type, L.time, L.tariff],
  [LedgerTxType.Agreement]: [L.type, L.meterId, L.time, L.from, L.tariffName],
  [LedgerTxType.Bill]: [L.type, L.time, L.payee, L.bill, L.height],
  [LedgerTxType.Mandate]: [L.type, L.time, L.account, L.payee, L.meters, L.capPerBill, L.capPerMonth, L.expires, L.autopay],
  [LedgerTxType.MandateRevoke]: [L.type, L.time, L.account, L.payee],
  [LedgerTxType.Payment]: [L.type, L.meterId, L.time, L.amount, L.period],
  [LedgerTxType.Dispute]: [L.type, L.meterId, L.time, L.period, L.reason, L.readings],
  [LedgerTxType.CreditNote]: [L.type, L.meterId, L.time, L.amount, L.period, L.note],
  [LedgerTxType.DisputeReject]: [L.type, L.meterId, L.time, L.period, L.note],
};
/** Labels a type may carry besides its required ones. */
export const LEDGER_OPTIONAL_LABELS: Readonly<Partial<Record<LedgerTxType, readonly number[]>>> = { [LedgerTxType.Bill]: [L.disclosures] };

export function isLedgerTxType(t: unknown): t is LedgerTxType {
  return typeof t === 'number' && Number.isInteger(t) && t >= 6 && t <= 19;
}

/** The size limit of a transaction of `type` on a chain whose genesis says `maxTxBytes`. */
export function txSizeLimit(type: number, maxTxBytes: number): number {
  return Math.max(maxTxBytes, TX_SIZE_LIMITS[type] ?? 0);
}

/** An amount or cap: uint 1 .. 2^63-1. */
function amount(m: PayloadMap, label: number, field: string): bigint {
  const v = m.get(label);
  if ((typeof v !== 'number' || !Number.isSafeInteger(v)) && typeof v !== 'bigint') throw schema(`${field} (label ${label}) must be an unsigned integer of minor units`, field);
  const b = BigInt(v);
  if (b < 1n || b > MAX_AMOUNT) throw schema(`${field} must be from 1 to 2^63-1`, field);
  return b;
}

function period(m: PayloadMap): string {
  const p = text(m, L.period, 'period', false, 32)!;
  if (!PERIOD_LABEL_PATTERN.test(p)) throw schema('period (label 25) must be "YYYY-MM" or "cycle-N"', 'period');
  return p;
}

/** Strictly ascending, so a list has one encoding and no repeats. */
function ascending<T extends string | bigint>(xs: readonly T[], field: string): void {
  for (let i = 1; i < xs.length; i++) if (!(xs[i - 1]! < xs[i]!)) throw schema(`${field} must be strictly ascending`, `${field}[${i}]`);
}

/** A canonical map nested in the payload, as its own bytes (decodeTariff / decodeBill check them). */
function nested(m: PayloadMap, label: number, field: string): Uint8Array {
  const v = m.get(label);
  if (!(v instanceof Map)) throw schema(`${field} (label ${label}) must be a CBOR map`, field);
  return encodeCbor(v);
}

/** Parse the payload map of a type 6-19 transaction; E_READING_SCHEMA (or the tariff's, bill's code) naming the field. */
export function decodeLedgerTxBody(m: PayloadMap): LedgerTxBody {
  const type = m.get(L.type);
  if (!isLedgerTxType(type)) throw schema('type (label 0) must be 6..19', 'type');
  const labels = LEDGER_LABELS[type];
  onlyLabels(m, [...labels, ...(LEDGER_OPTIONAL_LABELS[type] ?? [])], type);
  for (const l of labels) if (!m.has(l)) throw schema(`label ${l} is required for type ${type}`, fieldOfLabel(l));
  const time = uint(m, L.time, 'time')!;
  const account = (): string => idField(m, L.account, 'account');
  const meterId = (): string => idField(m, L.meterId, 'meterId');
  switch (type) {
    case LedgerTxType.AccountOpen:
      return { type, time, account: account(), ...keyFields(m) };
    case LedgerTxType.AccountRotate: {
      const keyEpoch = uint(m, L.keyEpoch, 'keyEpoch')!;
      if (keyEpoch < 1) throw schema('keyEpoch must be at least 1', 'keyEpoch');
      return { type, time, account: account(), ...keyFields(m), keyEpoch };
    }
    case LedgerTxType.MeterAssign:
      return { type, time, meterId: meterId(), account: account() };
    case LedgerTxType.Deposit:
    case LedgerTxType.Withdrawal:
      return { type, time, account: account(), amount: amount(m, L.amount, 'amount'), reference: text(m, L.reference, 'reference', false, MAX_REFERENCE_CHARS)! };
    case LedgerTxType.TariffPublish:
      return { type, time, tariff: decodeTariff(nested(m, L.tariff, 'tariff')) };
    case LedgerTxType.Agreement: {
      const from = uint(m, L.from, 'from')!;
      const t = m.get(L.tariffName);
      if (t !== null && (typeof t !== 'string' || !TARIFF_ID_PATTERN.test(t))) throw schema('tariffName (label 24) must be a tariff name or null', 'tariffName');
      return { type, time, meterId: meterId(), from, tariff: t };
    }
    case LedgerTxType.Bill:
      return {
        type, time, payee: idField(m, L.payee, 'payee'), height: uint(m, L.height, 'height')!, bill: decodeBill(nested(m, L.bill, 'bill')),
        ...(m.has(L.disclosures) ? { disclosures: billDisclosuresFromCbor(m.get(L.disclosures)) } : {}),
      };
    case LedgerTxType.Mandate: {
      const ms = m.get(L.meters);
      if (!Array.isArray(ms) || ms.length < 1 || ms.length > MAX_MANDATE_METERS) throw schema(`meters (label 17) must list 1..${MAX_MANDATE_METERS} meter ids`, 'meters');
      const meters = ms.map((_, i) => idField(new Map([[0, ms[i]]]), 0, `meters[${i}]`));
      ascending(meters, 'meters');
      const autopay = m.get(L.autopay);
      if (typeof autopay !== 'boolean') throw schema('autopay (label 21) must be true or false', 'autopay');
      return {
        type, time, account: account(), payee: idField(m, L.payee, 'payee'), meters, capPerBill: amount(m, L.capPerBill, 'capPerBill'),
        capPerMonth: amount(m, L.capPerMonth, 'capPerMonth'), expires: uint(m, L.expires, 'expires')!, autopay,
      };
    }
    case LedgerTxType.MandateRevoke:
      return { type, time, account: account(), payee: idField(m, L.payee, 'payee') };
    case LedgerTxType.Payment:
      return { type, time, meterId: meterId(), period: period(m), amount: amount(m, L.amount, 'amount') };
    case LedgerTxType.Dispute: {
      const rs = m.get(L.readings);
      if (!Array.isArray(rs) || rs.length > MAX_DISPUTED_READINGS) throw schema(`readings (label 29) must list 0..${MAX_DISPUTED_READINGS} seqs`, 'readings');
      const readings = rs.map((s, i) => {
        if ((typeof s !== 'number' || !Number.isSafeInteger(s)) && typeof s !== 'bigint') throw schema('a seq must be an unsigned integer', `readings[${i}]`);
        const b = BigInt(s);
        if (b < 1n || b > 2n ** 64n - 1n) throw schema('a seq is from 1 to 2^64-1', `readings[${i}]`);
        return b;
      });
      ascending(readings, 'readings');
      return { type, time, meterId: meterId(), period: period(m), reason: text(m, L.reason, 'reason', false, MAX_REASON_CHARS)!, readings };
    }
    case LedgerTxType.CreditNote:
      return { type, time, meterId: meterId(), period: period(m), amount: amount(m, L.amount, 'amount'), note: text(m, L.note, 'note', false, MAX_REASON_CHARS)! };
    case LedgerTxType.DisputeReject:
      return { type, time, meterId: meterId(), period: period(m), note: text(m, L.note, 'note', false, MAX_REASON_CHARS)! };
  }
}

function fieldOfLabel(label: number): string {
  return Object.entries(LedgerLabel).find(([, l]) => l === label)![0];
}

/** Encode a body into its payload map (the inverse of decodeLedgerTxBody). */
export function encodeLedgerTxBody(b: LedgerTxBody): Uint8Array {
  const m = new Map<number, unknown>([[L.type, b.type], [L.time, b.time]]);
  switch (b.type) {
    case LedgerTxType.AccountOpen:
      m.set(L.account, b.account).set(L.alg, b.alg).set(L.publicKey, b.publicKey);
      break;
    case LedgerTxType.AccountRotate:
      m.set(L.account, b.account).set(L.alg, b.alg).set(L.publicKey, b.publicKey).set(L.keyEpoch, b.keyEpoch);
      break;
    case LedgerTxType.MeterAssign:
      m.set(L.meterId, b.meterId).set(L.account, b.account);
      break;
    case LedgerTxType.Deposit:
    case LedgerTxType.Withdrawal:
      m.set(L.account, b.account).set(L.amount, b.amount).set(L.reference, b.reference);
      break;
    case LedgerTxType.TariffPublish:
      m.set(L.tariff, decodeCanonicalCbor(b.tariff.bytes));
      break;
    case LedgerTxType.Agreement:
      m.set(L.meterId, b.meterId).set(L.from, b.from).set(L.tariffName, b.tariff);
      break;
    case LedgerTxType.Bill:
      m.set(L.payee, b.payee).set(L.height, b.height).set(L.bill, decodeCanonicalCbor(encodeBill(b.bill)));
      if (b.disclosures !== undefined) m.set(L.disclosures, billDisclosuresToCbor(b.disclosures));
      break;
    case LedgerTxType.Mandate:
      m.set(L.account, b.account).set(L.payee, b.payee).set(L.meters, [...b.meters]).set(L.capPerBill, b.capPerBill)
        .set(L.capPerMonth, b.capPerMonth).set(L.expires, b.expires).set(L.autopay, b.autopay);
      break;
    case LedgerTxType.MandateRevoke:
      m.set(L.account, b.account).set(L.payee, b.payee);
      break;
    case LedgerTxType.Payment:
      m.set(L.meterId, b.meterId).set(L.period, b.period).set(L.amount, b.amount);
      break;
    case LedgerTxType.Dispute:
      m.set(L.meterId, b.meterId).set(L.period, b.period).set(L.reason, b.reason).set(L.readings, [...b.readings]);
      break;
    case LedgerTxType.CreditNote:
      m.set(L.meterId, b.meterId).set(L.period, b.period).set(L.amount, b.amount).set(L.note, b.note);
      break;
    case LedgerTxType.DisputeReject:
      m.set(L.meterId, b.meterId).set(L.period, b.period).set(L.note, b.note);
      break;
  }
  return encodeCbor(m);
}

export function isLedgerTxBody(b: { readonly type: number }): b is LedgerTxBody {
  return isLedgerTxType(b.type);
}
