/**
 * Bills of confidential meters (docs/billing.md §17.2, docs/protocol.md §11.7): the bill
 * transaction discloses the content keys of exactly the readings its computation needs
 * and states their values; a verifier opens each disclosed reading with its key alone,
 * checks the stated values, and recomputes the bill from those readings as for any meter.
 *
 *   disclosures (bill label 31) = [1*1024 [seq: uint, contentKey: bstr 32, importWh: uint, exportWh: uint / null]]
 *                                 ; strictly ascending by seq
 *
 * What a verifier without any key cannot see (the drops between undisclosed readings) is
 * said in §17.2; what it can, it checks here: every reading that brackets a boundary is
 * disclosed (the brackets depend on clear times only), every register reset is between
 * readings that are consecutive on the ledger.
 */
import { equalBytes } from '../bytes.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { CONTENT_KEY_BYTES, type PeriodKeySchedule, contentKeyOf, keyCommitmentOf } from '../confidential/schedule.js';
import { type SealedReading, decryptReading } from '../confidential/sealed-reading.js';
import { verifyDisclosure } from '../confidential/disclosure.js';
import type { Bill } from './bill.js';
import { type BillReading, bracket } from './interpolate.js';

export const MAX_BILL_DISCLOSURES = 1024;

/** One disclosed reading of a bill: its content key and the values the bill says it opens to. */
export interface BillDisclosure {
  readonly seq: bigint;
  readonly contentKey: Uint8Array;
  readonly importWh: number;
  readonly exportWh?: number;
}

/** The clear fields of a committed sealed reading (what anyone sees). */
export interface SealedEntry {
  readonly seq: bigint;
  readonly time: number;
}

/**
 * The committed sealed readings of confidential meters: what the bill rule reads besides
 * the ReadingIndex (./ledger.ts), bounded by height like it.
 */
export interface SealedReadingIndex {
  /** The meter's committed sealed readings at heights <= atHeight with from <= time <= to, in (time, seq) order. */
  entries(meterId: string, from: number, to: number, atHeight: number): readonly SealedEntry[];
  /** The latest entry with time <= t, and the earliest with time >= t (the range of §6.1). */
  latestAtOrBefore(meterId: string, t: number, atHeight: number): SealedEntry | undefined;
  earliestAtOrAfter(meterId: string, t: number, atHeight: number): SealedEntry | undefined;
  /** The committed sealed reading (meterId, seq) at a height <= atHeight. */
  reading(meterId: string, seq: bigint, atHeight: number): SealedReading | undefined;
}

const schema = (msg: string, field: string): RejectionError => new RejectionError(ReasonCode.SCHEMA, msg, field);
const wrongSet = (msg: string, field = 'disclosures'): RejectionError => new RejectionError(ReasonCode.BILL_DISCLOSURES, msg, field);
const isUint = (v: unknown): v is number | bigint => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);

export function billDisclosuresToCbor(ds: readonly BillDisclosure[]): unknown[] {
  return ds.map((d) => [d.seq, d.contentKey, d.importWh, d.exportWh ?? null]);
}

/** Label 31 of a bill transaction; E_READING_SCHEMA naming the field. */
export function billDisclosuresFromCbor(v: unknown): BillDisclosure[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_BILL_DISCLOSURES) throw schema(`disclosures (label 31) must list 1..${MAX_BILL_DISCLOSURES} disclosed readings`, 'disclosures');
  const out = v.map((e, i): BillDisclosure => {
    const f = `disclosures[${i}]`;
    if (!Array.isArray(e) || e.length !== 4) throw schema(`${f} must be [seq, contentKey, importWh, exportWh or null]`, f);
    const [seq, key, imp, exp] = e as unknown[];
    if (!isUint(seq) || BigInt(seq) < 1n || BigInt(seq) > 2n ** 64n - 1n) throw schema(`${f}.seq must be from 1 to 2^64-1`, `${f}.seq`);
    if (!(key instanceof Uint8Array) || key.length !== CONTENT_KEY_BYTES) throw schema(`${f}.contentKey must be a bstr of ${CONTENT_KEY_BYTES} bytes`, `${f}.contentKey`);
    if (typeof imp !== 'number' || !isUint(imp)) throw schema(`${f}.importWh must be an unsigned integer below 2^53`, `${f}.importWh`);
    if (exp !== null && (typeof exp !== 'number' || !isUint(exp))) throw schema(`${f}.exportWh must be an unsigned integer below 2^53 or null`, `${f}.exportWh`);
    return { seq: BigInt(seq), contentKey: key, importWh: imp, ...(exp !== null ? { exportWh: exp } : {}) };
  });
  for (let i = 1; i < out.length; i++) if (!(out[i - 1]!.seq < out[i]!.seq)) throw schema('disclosures must be strictly ascending by seq', `disclosures[${i}].seq`);
  return out;
}

/**
 * Open each disclosure against the committed sealed reading it names and return the
 * readings as the engine takes them, with their values. Codes, in order per disclosure:
 * E_BILL_DISCLOSURES (no such committed reading at or below the bill's height),
 * E_CONF_BAD_DISCLOSURE_KEY (the key is not the reading's), E_CONF_AUTH_FAILED,
 * E_BILL_DISCLOSED_VALUE (a stated value is not the one the key opens).
 */
export function openBillDisclosures(chainId: string, meterId: string, ds: readonly BillDisclosure[], sealed: (seq: bigint) => SealedReading | undefined): BillReading[] {
  return ds.map((d, i) => {
    const f = `disclosures[${i}]`;
    const r = sealed(d.seq);
    if (!r) throw wrongSet(`discloses reading ${d.seq}, which is not a committed sealed reading of "${meterId}" at or below the bill's height`, `${f}.seq`);
    let opened;
    try {
      opened = verifyDisclosure(chainId, r, { meterId, seq: d.seq, contentKey: d.contentKey });
    } catch (e) {
      if (e instanceof RejectionError) throw new RejectionError(e.code, `${f}: ${e.message}`, `${f}.contentKey`, { cause: e });
      throw e;
    }
    if (opened.importWh !== d.importWh) throw new RejectionError(ReasonCode.BILL_DISCLOSED_VALUE, `${f}: reading ${d.seq} opens to importWh ${opened.importWh}, the bill states ${d.importWh}`, `${f}.importWh`);
    if (opened.exportWh !== d.exportWh) throw new RejectionError(ReasonCode.BILL_DISCLOSED_VALUE, `${f}: reading ${d.seq} opens to exportWh ${opened.exportWh ?? 'none'}, the bill states ${d.exportWh ?? 'none'}`, `${f}.exportWh`);
    return { seq: d.seq, time: opened.time, importWh: opened.importWh, ...(opened.exportWh !== undefined ? { exportWh: opened.exportWh } : {}) };
  });
}

/**
 * What a verifier with the ledger's clear fields checks of a recomputed bill's
 * disclosures (§17.2): they are exactly `bill.readings`; every reading of `all` (the
 * meter's committed sealed readings in the bill's range, in (time, seq) order) that
 * brackets one of `boundaries` is among them; each reset is between readings
 * consecutive in `all`. E_BILL_DISCLOSURES naming what is wrong.
 */
export function checkDisclosedSet(bill: Bill, ds: readonly BillDisclosure[], all: readonly SealedEntry[], boundaries: Iterable<number>): void {
  const disclosed = new Set(ds.map((d) => d.seq));
  const needed = new Set(bill.readings);
  for (const d of ds) if (!needed.has(d.seq)) throw wrongSet(`discloses reading ${d.seq}, which the bill does not need: a bill discloses exactly the readings it needs`);
  for (const s of bill.readings) if (!disclosed.has(s)) throw wrongSet(`the bill needs reading ${s} and does not disclose it`);
  const into = new Set<number>();
  const times = all as unknown as readonly BillReading[]; // bracket() reads only time
  for (const t of boundaries) bracket(times, t, into);
  for (const i of into) {
    const s = all[i]!.seq;
    if (!disclosed.has(s)) throw wrongSet(`reading ${s} (time ${all[i]!.time}) brackets a boundary of the bill and is not disclosed`);
  }
  const next = new Map<bigint, bigint>();
  for (let i = 0; i + 1 < all.length; i++) next.set(all[i]!.seq, all[i + 1]!.seq);
  for (const r of bill.resets) {
    if (next.get(r.fromSeq) !== r.toSeq) throw wrongSet(`the ${r.register} register goes down from reading ${r.fromSeq} to ${r.toSeq}, which are not consecutive on the ledger: disclose the readings between`, 'resets');
  }
}

/**
 * For a recipient making a bill (the biller): the disclosure of each reading `seqs` names,
 * opened with whichever of `keys` sealed it (E_CONF_UNKNOWN_KEY if none did).
 */
export function discloseForBill(chainId: string, keys: readonly PeriodKeySchedule[], readings: readonly SealedReading[], seqs: readonly bigint[]): BillDisclosure[] {
  const bySeq = new Map(readings.map((r) => [r.seq, r]));
  return seqs.map((seq) => {
    const r = bySeq.get(seq);
    if (!r) throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `reading ${seq} is not among the sealed readings given`, 'readings');
    const k = keys.find((s) => s.meterId === r.meterId && equalBytes(s.keyId, r.sealed.keyId));
    if (!k) throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `reading ${seq} is sealed under a period key not given`, 'kidContext');
    const v = decryptReading(chainId, k, r);
    const contentKey = contentKeyOf(k, r.seq, r.time);
    if (!equalBytes(keyCommitmentOf(contentKey), r.sealed.keyCommitment)) throw new RejectionError(ReasonCode.CONF_KEY_MISMATCH, `reading ${seq} commits to another key`, 'kid');
    return { seq, contentKey, importWh: v.importWh, ...(v.exportWh !== undefined ? { exportWh: v.exportWh } : {}) };
  });
}

const byTimeThenSeq = (a: SealedEntry, b: SealedEntry): number => a.time - b.time || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

/** A SealedReadingIndex in memory: for `bill verify`, a browser, the audit and tests. */
export class MemorySealedReadingIndex implements SealedReadingIndex {
  private readonly byMeter = new Map<string, (SealedEntry & { readonly height: number; readonly reading?: SealedReading })[]>();

  /** A committed sealed reading (its body, or only its clear fields when the body is not held). */
  add(meterId: string, e: { seq: bigint; time: number; height: number; reading?: SealedReading }): void {
    const list = this.byMeter.get(meterId) ?? [];
    let i = list.length;
    while (i > 0 && byTimeThenSeq(list[i - 1]!, e) > 0) i--;
    list.splice(i, 0, e);
    this.byMeter.set(meterId, list);
  }

  /** Give the body of an entry added with its clear fields only. */
  setReading(meterId: string, r: SealedReading): void {
    const list = this.byMeter.get(meterId) ?? [];
    const i = list.findIndex((e) => e.seq === r.seq);
    if (i >= 0) list[i] = { ...list[i]!, reading: r };
  }

  delete(meterId: string): void {
    this.byMeter.delete(meterId);
  }

  private committed(meterId: string, atHeight: number) {
    return (this.byMeter.get(meterId) ?? []).filter((e) => e.height <= atHeight);
  }

  entries(meterId: string, from: number, to: number, atHeight: number): readonly SealedEntry[] {
    return this.committed(meterId, atHeight).filter((e) => e.time >= from && e.time <= to).map(({ seq, time }) => ({ seq, time }));
  }

  latestAtOrBefore(meterId: string, t: number, atHeight: number): SealedEntry | undefined {
    return this.committed(meterId, atHeight).filter((e) => e.time <= t).pop();
  }

  earliestAtOrAfter(meterId: string, t: number, atHeight: number): SealedEntry | undefined {
    return this.committed(meterId, atHeight).find((e) => e.time >= t);
  }

  reading(meterId: string, seq: bigint, atHeight: number): SealedReading | undefined {
    return this.committed(meterId, atHeight).find((e) => e.seq === seq)?.reading;
  }

  /** Seqs whose body is not held (a node loads those a bill discloses). */
  missing(meterId: string, seqs: Iterable<bigint>): bigint[] {
    const list = this.byMeter.get(meterId) ?? [];
    return [...seqs].filter((s) => { const e = list.find((x) => x.seq === s); return e !== undefined && e.reading === undefined; });
  }

  /** Where the entry of (meterId, seq) is, if held. */
  has(meterId: string, seq: bigint): boolean {
    return (this.byMeter.get(meterId) ?? []).some((e) => e.seq === seq);
  }
}
