/**
 * A bill bundle (docs/billing.md §22): the receipt of a bill with the receipts of what it
 * was computed from (its readings, the meter's agreements, the versions of the tariffs
 * they name), enough to check the bill offline with the genesis file alone. Pure and
 * browser-safe: `meterledger bill verify` and the owner's portal run this same code.
 *
 * verifyBillBundle checks every receipt against genesis (protocols/receipt.ts), checks
 * that each holds the transaction its place in the bundle says, rebuilds the agreements
 * as the ledger's rule does (§16), recomputes the bill with the engine (§5-§7) and
 * compares it with the committed one (§8.3), naming the first line that differs.
 */
import { fromHex, toHex } from '../bytes.js';
import { CodedError, ProofCode, ReasonCode, RejectionError } from '../errors.js';
import { type Genesis, chainCycle, genesisHash } from '../genesis.js';
import { type Receipt, decodeReceipt, encodeReceipt, verifyReceipt } from '../receipt.js';
import { type SignedTx, type TxBody, TxType } from '../tx.js';
import type { Bill } from './bill.js';
import { compareBills } from './compare.js';
import { computeBill } from './engine.js';
import { openBillDisclosures } from './disclosure.js';
import type { BillReading } from './interpolate.js';
import type { Tariff } from './tariff.js';
import type { Agreement } from './terms.js';
import { type AgreementSet, type BillIssue, LedgerTxType, type TariffPublish } from './txs.js';

/** The `format` of a bundle's JSON (§22.1). */
export const BILL_BUNDLE_FORMAT = 'meterledger-bill-bundle';

export interface BillBundle {
  readonly chainId: string;
  /** Hex SHA-256 of the genesis the receipts verify against (protocols genesisHash). */
  readonly genesisHash: string;
  readonly bill: Receipt;
  /** The readings the bill names (Bill.readings), any order. */
  readonly readings: readonly Receipt[];
  /** The meter's agreement transactions committed before the bill, any order. */
  readonly agreements: readonly Receipt[];
  /** The tariff publications of every tariff those agreements name, committed before the bill, any order. */
  readonly tariffs: readonly Receipt[];
}

const KEYS = ['format', 'v', 'chainId', 'genesisHash', 'bill', 'readings', 'agreements', 'tariffs'];

/** The bundle's JSON form (§22.1): receipts as hex of their CBOR. */
export function billBundleToJson(b: BillBundle): Record<string, unknown> {
  const hex = (r: Receipt): string => toHex(encodeReceipt(r));
  return {
    format: BILL_BUNDLE_FORMAT, v: 1, chainId: b.chainId, genesisHash: b.genesisHash,
    bill: hex(b.bill), readings: b.readings.map(hex), agreements: b.agreements.map(hex), tariffs: b.tariffs.map(hex),
  };
}

export class BundleError extends CodedError<ProofCode | ReasonCode> {
  override readonly name = 'BundleError';
  constructor(code: ProofCode | ReasonCode, message: string, readonly field?: string) {
    super(code, message);
  }
}

const malformed = (msg: string): BundleError => new BundleError(ProofCode.BUNDLE_MALFORMED, msg);

/** Parse the JSON form; E_BUNDLE_MALFORMED naming the field. */
export function billBundleFromJson(doc: unknown): BillBundle {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('a bundle is a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!KEYS.includes(k)) throw malformed(`unknown field "${k}"`);
  if (d.format !== BILL_BUNDLE_FORMAT) throw malformed(`format must be "${BILL_BUNDLE_FORMAT}"`);
  if (d.v !== 1) throw malformed('v must be 1');
  if (typeof d.chainId !== 'string') throw malformed('chainId must be a string');
  if (typeof d.genesisHash !== 'string' || !/^[0-9a-f]{64}$/.test(d.genesisHash)) throw malformed('genesisHash must be 64 lowercase hex digits');
  const receipt = (v: unknown, field: string): Receipt => {
    if (typeof v !== 'string' || !/^([0-9a-f]{2})+$/.test(v)) throw malformed(`${field} must be the hex of a receipt's CBOR`);
    try {
      return decodeReceipt(fromHex(v, field));
    } catch (e) {
      throw malformed(`${field}: ${(e as Error).message}`);
    }
  };
  const list = (field: string): Receipt[] => {
    const v = d[field];
    if (!Array.isArray(v)) throw malformed(`${field} must be an array`);
    return v.map((x, i) => receipt(x, `${field}[${i}]`));
  };
  return {
    chainId: d.chainId, genesisHash: d.genesisHash, bill: receipt(d.bill, 'bill'),
    readings: list('readings'), agreements: list('agreements'), tariffs: list('tariffs'),
  };
}

export interface VerifiedBill {
  readonly bill: Bill;
  /** Height and leaf index of the bill transaction. */
  readonly height: number;
  readonly index: number;
  /** The height the bill says it was computed at (its readings are at or below it). */
  readonly computedAt: number;
  readonly payee: string;
  readonly readings: number;
  readonly agreements: number;
  readonly tariffVersions: number;
}

/** (height, index) strictly before (h, i) in chain order. */
const before = (r: Receipt, h: number, i: number): boolean => r.header.height < h || (r.header.height === h && r.index < i);

/**
 * Check a bundle against the genesis trusted and recompute its bill. Returns what it
 * proves, or throws BundleError with the first code that applies (§22.2): E_BUNDLE_*,
 * an engine code (§9) when the inputs do not make a bill, E_BILL_MISMATCH naming the
 * first field that differs (its `field`).
 */
export function verifyBillBundle(genesis: Genesis, b: BillBundle): VerifiedBill {
  const gh = toHex(genesisHash(genesis));
  if (b.genesisHash !== gh) throw new BundleError(ProofCode.BUNDLE_GENESIS, `the bundle trusts genesis ${b.genesisHash}, the genesis given is ${gh}`, 'genesisHash');
  if (b.chainId !== genesis.chainId) throw new BundleError(ProofCode.BUNDLE_GENESIS, `the bundle is of chain "${b.chainId}", the genesis of "${genesis.chainId}"`, 'chainId');
  if (!genesis.currency) throw new BundleError(ProofCode.BUNDLE_GENESIS, `chain "${genesis.chainId}" has no currency: it has no bills`, 'currency');
  const check = (r: Receipt, field: string): SignedTx<TxBody> => {
    try {
      return verifyReceipt(genesis, r).tx;
    } catch (e) {
      throw new BundleError(ProofCode.BUNDLE_RECEIPT, `${field}: ${(e as Error).message}`, field);
    }
  };
  const wrong = (field: string, msg: string): BundleError => new BundleError(ProofCode.BUNDLE_WRONG_TX, `${field}: ${msg}`, field);

  const billTx = check(b.bill, 'bill');
  if (billTx.body.type !== LedgerTxType.Bill) throw wrong('bill', `holds a transaction of type ${billTx.body.type}, not a bill (${LedgerTxType.Bill})`);
  const issue = billTx.body as BillIssue;
  const bill = issue.bill;
  const meterId = bill.meterId;
  const at = { height: b.bill.header.height, index: b.bill.index };
  // §17: a bill is computed at a height below its own block's.
  if (issue.height >= at.height) throw wrong('bill', `says it was computed at height ${issue.height}, not below its block's ${at.height}`);

  // Readings: of the bill's meter, committed at or below the height it was computed at (§17).
  const readings = new Map<bigint, BillReading>();
  b.readings.forEach((r, i) => {
    const field = `readings[${i}]`;
    const tx = check(r, field);
    if (tx.body.type !== TxType.Reading) throw wrong(field, `holds a transaction of type ${tx.body.type}, not a reading`);
    const body = tx.body;
    if (body.meterId !== meterId) throw wrong(field, `is a reading of meter "${body.meterId}", the bill is of "${meterId}"`);
    if (r.header.height > issue.height) throw wrong(field, `committed at height ${r.header.height}, after the bill's height ${issue.height}`);
    if (readings.has(body.seq)) throw wrong(field, `repeats reading ${body.seq}`);
    if ('sealed' in body) {
      // A sealed reading opens with the content key its bill discloses, and nothing else (§17.2).
      const d = issue.disclosures?.find((x) => x.seq === body.seq);
      if (!d) throw wrong(field, `is sealed and the bill discloses no key for reading ${body.seq}`);
      try {
        readings.set(body.seq, openBillDisclosures(genesis.chainId, meterId, [d], () => body)[0]!);
      } catch (e) {
        if (e instanceof RejectionError) throw new BundleError(e.code, `${field}: ${e.message}`, field);
        throw e;
      }
      return;
    }
    readings.set(body.seq, { seq: body.seq, time: body.time, importWh: body.importWh, ...(body.exportWh !== undefined ? { exportWh: body.exportWh } : {}) });
  });
  const named = new Set(bill.readings);
  for (const seq of bill.readings) if (!readings.has(seq)) throw new BundleError(ProofCode.BUNDLE_INCOMPLETE, `the bill uses reading ${seq}, which has no receipt in the bundle`, 'readings');
  for (const seq of readings.keys()) if (!named.has(seq)) throw new BundleError(ProofCode.BUNDLE_INCOMPLETE, `reading ${seq} is not one the bill uses`, 'readings');

  // Agreements: the meter's, before the bill, applied in chain order as §16's rule does.
  const agreed = b.agreements.map((r, i) => {
    const field = `agreements[${i}]`;
    const tx = check(r, field);
    if (tx.body.type !== LedgerTxType.Agreement) throw wrong(field, `holds a transaction of type ${tx.body.type}, not an agreement (${LedgerTxType.Agreement})`);
    const body = tx.body as AgreementSet;
    if (body.meterId !== meterId) throw wrong(field, `is an agreement of meter "${body.meterId}", the bill is of "${meterId}"`);
    if (!before(r, at.height, at.index)) throw wrong(field, `committed at ${r.header.height}:${r.index}, not before the bill (${at.height}:${at.index})`);
    return { r, body };
  }).sort((x, y) => x.r.header.height - y.r.header.height || x.r.index - y.r.index);
  let entries: Agreement[] = [];
  for (const { body } of agreed) entries = [...entries.filter((e) => e.from !== body.from), { from: body.from, tariff: body.tariff }].sort((x, y) => x.from - y.from);
  // Every tariff an agreement named, one since replaced included (the bundle's assembler cannot tell).
  const names = new Set(agreed.flatMap(({ body }) => (body.tariff === null ? [] : [body.tariff])));

  // Tariff versions: of the tariffs those agreements name, published before the bill.
  const tariffs: Tariff[] = [];
  const ids = new Set<string>();
  b.tariffs.forEach((r, i) => {
    const field = `tariffs[${i}]`;
    const tx = check(r, field);
    if (tx.body.type !== LedgerTxType.TariffPublish) throw wrong(field, `holds a transaction of type ${tx.body.type}, not a tariff publication (${LedgerTxType.TariffPublish})`);
    const t = (tx.body as TariffPublish).tariff;
    if (!names.has(t.tariff)) throw wrong(field, `publishes tariff "${t.tariff}", which no agreement of the meter names`);
    if (!before(r, at.height, at.index)) throw wrong(field, `committed at ${r.header.height}:${r.index}, not before the bill (${at.height}:${at.index})`);
    if (ids.has(t.id)) throw wrong(field, `repeats tariff version ${t.id}`);
    ids.add(t.id);
    tariffs.push(t);
  });

  let recomputed: Bill;
  try {
    recomputed = computeBill({
      meterId, period: bill.period.label, currency: genesis.currency, agreements: entries, tariffs, readings: [...readings.values()],
      ...(chainCycle(genesis) ? { cycle: chainCycle(genesis)! } : {}),
    });
  } catch (e) {
    if (e instanceof RejectionError) throw new BundleError(e.code, `the bundle's inputs make no bill: ${e.message}`, e.field);
    throw e;
  }
  const d = compareBills(bill, recomputed);
  if (d) throw new BundleError(ReasonCode.BILL_MISMATCH, `${d.path}: committed ${d.submitted}, recomputed ${d.recomputed}`, d.path);
  return {
    bill, height: at.height, index: at.index, computedAt: issue.height, payee: issue.payee,
    readings: readings.size, agreements: agreed.length, tariffVersions: tariffs.length,
  };
}
