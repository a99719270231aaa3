/**
 * A bill as the engine computes it (docs/billing.md §8): one meter, one period, the
 * tariff versions and readings used, line items in integer minor units, the total. Two
 * forms like a tariff's: JSON (the HTTP API, `bill verify`) and canonical CBOR with
 * integer labels (what a bill transaction carries).
 */
import { fromHex, toHex } from '../bytes.js';
import { decodeCanonicalCbor, encodeCbor } from '../cbor.js';
import { METER_ID_PATTERN } from '../payload.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { MAX_INSTANT } from './localtime.js';
import type { BillPeriod } from './period.js';
import { type Fraction, fraction, fractionText, parseFractionText } from './rounding.js';
import { type Currency, TARIFF_ID_PATTERN } from './tariff.js';

/** A tariff version the bill used; lines and terms name it by its index in `versions`. */
export interface BillVersion {
  readonly tariff: string;
  /** Content id: hex of SHA-256 of the version's canonical CBOR. */
  readonly id: string;
}

/** A stretch [from, to) of the period billed under versions[version]. */
export interface BillTerm {
  readonly from: number;
  readonly to: number;
  readonly version: number;
}

export interface StandingLine {
  readonly kind: 'standing';
  readonly version: number;
  /** Local days covered, exact. */
  readonly days: Fraction;
  /** Micro-units per day. */
  readonly pricePerDay: number;
  /** Minor units. */
  readonly amount: number;
}

export interface EnergyLine {
  readonly kind: 'energy';
  readonly version: number;
  readonly band: string;
  /** 0 .. tierLimitsWh.length */
  readonly tier: number;
  readonly energyWh: number;
  /** Micro-units per kWh. */
  readonly pricePerKWh: number;
  readonly amount: number;
}

export interface ExportLine {
  readonly kind: 'export';
  readonly version: number;
  readonly energyWh: number;
  readonly pricePerKWh: number;
  /** Minor units, zero or negative: a credit. */
  readonly amount: number;
}

export type BillLine = StandingLine | EnergyLine | ExportLine;

/** Consecutive readings used where a register went down (§6.3). */
export interface RegisterReset {
  readonly register: 'import' | 'export';
  readonly fromSeq: bigint;
  readonly toSeq: bigint;
}

export interface Bill {
  readonly meterId: string;
  readonly period: BillPeriod;
  readonly currency: Currency;
  readonly versions: readonly BillVersion[];
  readonly terms: readonly BillTerm[];
  /** The seqs of the readings the computation needs, ascending. */
  readonly readings: readonly bigint[];
  readonly lines: readonly BillLine[];
  /** Minor units: the sum of the lines; negative when export credit exceeds the charges. */
  readonly total: number;
  readonly resets: readonly RegisterReset[];
}

/** CBOR labels of a bill and line kinds (docs/billing.md §8.2). */
export const BillLabel = { meterId: 1, period: 2, currency: 3, versions: 4, terms: 5, readings: 6, lines: 7, total: 8, resets: 9 } as const;
export const LineKind = { standing: 0, energy: 1, export: 2 } as const;

// ------------------------------------------------------------------------------- JSON

/** The JSON form: seqs as decimal strings, days as "31" or "45/2", instants in ms. */
export function billToJson(b: Bill): Record<string, unknown> {
  return {
    meterId: b.meterId,
    period: { label: b.period.label, start: b.period.start, end: b.period.end },
    currency: { code: b.currency.code, minorUnits: b.currency.minorUnits },
    versions: b.versions.map((v) => ({ tariff: v.tariff, id: v.id })),
    terms: b.terms.map((t) => ({ from: t.from, to: t.to, version: t.version })),
    readings: b.readings.map((s) => s.toString()),
    lines: b.lines.map(lineToJson),
    total: b.total,
    resets: b.resets.map((r) => ({ register: r.register, fromSeq: r.fromSeq.toString(), toSeq: r.toSeq.toString() })),
  };
}

function lineToJson(l: BillLine): Record<string, unknown> {
  switch (l.kind) {
    case 'standing':
      return { kind: l.kind, version: l.version, days: fractionText(l.days), pricePerDay: l.pricePerDay, amount: l.amount };
    case 'energy':
      return { kind: l.kind, version: l.version, band: l.band, tier: l.tier, energyWh: l.energyWh, pricePerKWh: l.pricePerKWh, amount: l.amount };
    case 'export':
      return { kind: l.kind, version: l.version, energyWh: l.energyWh, pricePerKWh: l.pricePerKWh, amount: l.amount };
  }
}

function fail(field: string, msg: string): never {
  throw new RejectionError(ReasonCode.BILL_INVALID, `bill${field ? `.${field}` : ''}: ${msg}`, field || undefined);
}
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
function keys(o: unknown, allowed: readonly string[], field: string): Record<string, unknown> {
  if (!isObj(o)) fail(field, 'must be an object');
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(field ? `${field}.${k}` : k, 'is not a field here');
  for (const k of allowed) if (o[k] === undefined) fail(field ? `${field}.${k}` : k, 'is required');
  return o;
}
function int(v: unknown, field: string, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer from ${min} to ${max}`);
  return v;
}
function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) fail(field, 'must be an array');
  return v;
}
function seqText(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !/^[1-9]\d{0,19}$/.test(v) || BigInt(v) > 2n ** 64n - 1n) fail(field, 'must be a seq as a decimal string, 1 .. 2^64-1');
  return BigInt(v);
}
const versionIndex = (v: unknown, field: string, n: number): number => int(v, field, 0, Math.max(0, n - 1));

/** Parse the JSON form, checking its shape (not its arithmetic: recompute for that). */
export function billFromJson(doc: unknown): Bill {
  const o = keys(doc, ['meterId', 'period', 'currency', 'versions', 'terms', 'readings', 'lines', 'total', 'resets'], '');
  const p = keys(o.period, ['label', 'start', 'end'], 'period');
  const c = keys(o.currency, ['code', 'minorUnits'], 'currency');
  const versions = list(o.versions, 'versions').map((v, i): BillVersion => {
    const x = keys(v, ['tariff', 'id'], `versions[${i}]`);
    return { tariff: x.tariff as string, id: x.id as string };
  });
  const n = versions.length;
  const lines = list(o.lines, 'lines').map((l, i): BillLine => {
    const f = `lines[${i}]`;
    const kind = isObj(l) ? l.kind : undefined;
    if (kind === 'standing') {
      const x = keys(l, ['kind', 'version', 'days', 'pricePerDay', 'amount'], f);
      const days = typeof x.days === 'string' ? parseFractionText(x.days) : undefined;
      if (!days) fail(`${f}.days`, 'must be "N" or "N/D" in lowest terms');
      return { kind, version: versionIndex(x.version, `${f}.version`, n), days, pricePerDay: int(x.pricePerDay, `${f}.pricePerDay`, 0), amount: int(x.amount, `${f}.amount`) };
    }
    if (kind === 'energy') {
      const x = keys(l, ['kind', 'version', 'band', 'tier', 'energyWh', 'pricePerKWh', 'amount'], f);
      if (typeof x.band !== 'string') fail(`${f}.band`, 'must be a band name');
      return {
        kind, version: versionIndex(x.version, `${f}.version`, n), band: x.band, tier: int(x.tier, `${f}.tier`, 0, 8),
        energyWh: int(x.energyWh, `${f}.energyWh`, 0), pricePerKWh: int(x.pricePerKWh, `${f}.pricePerKWh`, 0), amount: int(x.amount, `${f}.amount`),
      };
    }
    if (kind === 'export') {
      const x = keys(l, ['kind', 'version', 'energyWh', 'pricePerKWh', 'amount'], f);
      return { kind, version: versionIndex(x.version, `${f}.version`, n), energyWh: int(x.energyWh, `${f}.energyWh`, 0), pricePerKWh: int(x.pricePerKWh, `${f}.pricePerKWh`, 0), amount: int(x.amount, `${f}.amount`) };
    }
    return fail(`${f}.kind`, 'must be "standing", "energy" or "export"');
  });
  const bill: Bill = {
    meterId: o.meterId as string,
    period: { label: p.label as string, start: int(p.start, 'period.start', 0), end: int(p.end, 'period.end', 0) },
    currency: { code: c.code as string, minorUnits: int(c.minorUnits, 'currency.minorUnits', 0, 6) },
    versions,
    terms: list(o.terms, 'terms').map((t, i) => {
      const x = keys(t, ['from', 'to', 'version'], `terms[${i}]`);
      return { from: int(x.from, `terms[${i}].from`, 0), to: int(x.to, `terms[${i}].to`, 0), version: versionIndex(x.version, `terms[${i}].version`, n) };
    }),
    readings: list(o.readings, 'readings').map((s, i) => seqText(s, `readings[${i}]`)),
    lines,
    total: int(o.total, 'total'),
    resets: list(o.resets, 'resets').map((r, i) => {
      const x = keys(r, ['register', 'fromSeq', 'toSeq'], `resets[${i}]`);
      if (x.register !== 'import' && x.register !== 'export') fail(`resets[${i}].register`, 'must be "import" or "export"');
      return { register: x.register, fromSeq: seqText(x.fromSeq, `resets[${i}].fromSeq`), toSeq: seqText(x.toSeq, `resets[${i}].toSeq`) };
    }),
  };
  checkBill(bill);
  return bill;
}

/** Shape rules both forms share: ids, patterns, instants, ascending seqs. */
function checkBill(b: Bill): void {
  if (typeof b.meterId !== 'string' || !METER_ID_PATTERN.test(b.meterId)) fail('meterId', 'must be a meter id');
  if (typeof b.period.label !== 'string' || b.period.label.length === 0 || b.period.label.length > 32) fail('period.label', 'must be a period label');
  if (b.period.end <= b.period.start || b.period.end > MAX_INSTANT) fail('period.end', 'must be after period.start and before 9999');
  if (typeof b.currency.code !== 'string' || !/^[A-Z]{3}$/.test(b.currency.code)) fail('currency.code', 'must be an ISO 4217 code');
  b.versions.forEach((v, i) => {
    if (typeof v.tariff !== 'string' || !TARIFF_ID_PATTERN.test(v.tariff)) fail(`versions[${i}].tariff`, 'must be a tariff name');
    if (typeof v.id !== 'string' || !/^[0-9a-f]{64}$/.test(v.id)) fail(`versions[${i}].id`, 'must be 64 lower-case hex digits');
  });
  for (let i = 1; i < b.readings.length; i++) if (b.readings[i]! <= b.readings[i - 1]!) fail(`readings[${i}]`, 'seqs must be ascending, without repeats');
}

// ------------------------------------------------------------------------------- CBOR

/** The canonical CBOR of a bill (docs/billing.md §8.2). */
export function encodeBill(b: Bill): Uint8Array {
  const L = BillLabel;
  return encodeCbor(new Map<number, unknown>([
    [L.meterId, b.meterId],
    [L.period, [b.period.label, b.period.start, b.period.end]],
    [L.currency, [b.currency.code, b.currency.minorUnits]],
    [L.versions, b.versions.map((v) => [v.tariff, fromHex(v.id)])],
    [L.terms, b.terms.map((t) => [t.from, t.to, t.version])],
    [L.readings, [...b.readings]],
    [L.lines, b.lines.map((l) => {
      switch (l.kind) {
        case 'standing': return [LineKind.standing, l.version, l.days.num, l.days.den, l.pricePerDay, l.amount];
        case 'energy': return [LineKind.energy, l.version, l.band, l.tier, l.energyWh, l.pricePerKWh, l.amount];
        case 'export': return [LineKind.export, l.version, l.energyWh, l.pricePerKWh, l.amount];
      }
    })],
    [L.total, b.total],
    [L.resets, b.resets.map((r) => [r.register === 'import' ? 0 : 1, r.fromSeq, r.toSeq])],
  ]));
}

const bigUint = (v: unknown, field: string, min = 0n): bigint => {
  if ((typeof v !== 'number' || !Number.isSafeInteger(v)) && typeof v !== 'bigint') fail(field, 'must be an unsigned integer');
  const b = BigInt(v);
  if (b < min || b > 2n ** 64n - 1n) fail(field, `must be an integer from ${min} to 2^64-1`);
  return b;
};
const row = (v: unknown, n: number, field: string): unknown[] => {
  if (!Array.isArray(v) || v.length !== n) fail(field, `must be an array of ${n}`);
  return v;
};

/** Decode canonical bill CBOR; E_BILL_INVALID for anything else. */
export function decodeBill(bytes: Uint8Array): Bill {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new RejectionError(ReasonCode.BILL_INVALID, `bill: not deterministic CBOR: ${(cause as Error).message}`, undefined, { cause });
  }
  if (!(m instanceof Map) || m.size !== 9) fail('', 'must be a CBOR map of labels 1..9');
  const get = (k: keyof typeof BillLabel): unknown => {
    if (!m.has(BillLabel[k])) fail(k, `(label ${BillLabel[k]}) is required`);
    return m.get(BillLabel[k]);
  };
  const [label, start, end] = row(get('period'), 3, 'period');
  const [code, minorUnits] = row(get('currency'), 2, 'currency');
  const versions = list(get('versions'), 'versions').map((v, i): BillVersion => {
    const [tariff, id] = row(v, 2, `versions[${i}]`);
    if (!(id instanceof Uint8Array) || id.length !== 32) fail(`versions[${i}].id`, 'must be a bstr of 32 bytes');
    return { tariff: tariff as string, id: toHex(id) };
  });
  const n = versions.length;
  const lines = list(get('lines'), 'lines').map((l, i): BillLine => {
    const f = `lines[${i}]`;
    const kind = Array.isArray(l) ? l[0] : undefined;
    if (kind === LineKind.standing) {
      const [, v, num, den, price, amount] = row(l, 6, f);
      const days = fraction(bigUint(num, `${f}.days`), bigUint(den, `${f}.days`, 1n));
      if (days.num !== BigInt(num as number) || days.den !== BigInt(den as number)) fail(`${f}.days`, 'must be in lowest terms');
      return { kind: 'standing', version: versionIndex(v, `${f}.version`, n), days, pricePerDay: int(price, `${f}.pricePerDay`, 0), amount: int(amount, `${f}.amount`) };
    }
    if (kind === LineKind.energy) {
      const [, v, band, tier, wh, price, amount] = row(l, 7, f);
      if (typeof band !== 'string') fail(`${f}.band`, 'must be a band name');
      return {
        kind: 'energy', version: versionIndex(v, `${f}.version`, n), band, tier: int(tier, `${f}.tier`, 0, 8), energyWh: int(wh, `${f}.energyWh`, 0),
        pricePerKWh: int(price, `${f}.pricePerKWh`, 0), amount: int(amount, `${f}.amount`),
      };
    }
    if (kind === LineKind.export) {
      const [, v, wh, price, amount] = row(l, 5, f);
      return { kind: 'export', version: versionIndex(v, `${f}.version`, n), energyWh: int(wh, `${f}.energyWh`, 0), pricePerKWh: int(price, `${f}.pricePerKWh`, 0), amount: int(amount, `${f}.amount`) };
    }
    return fail(`${f}`, 'must start with a line kind 0, 1 or 2');
  });
  const bill: Bill = {
    meterId: get('meterId') as string,
    period: { label: label as string, start: int(start, 'period.start', 0), end: int(end, 'period.end', 0) },
    currency: { code: code as string, minorUnits: int(minorUnits, 'currency.minorUnits', 0, 6) },
    versions,
    terms: list(get('terms'), 'terms').map((t, i) => {
      const [from, to, v] = row(t, 3, `terms[${i}]`);
      return { from: int(from, `terms[${i}].from`, 0), to: int(to, `terms[${i}].to`, 0), version: versionIndex(v, `terms[${i}].version`, n) };
    }),
    readings: list(get('readings'), 'readings').map((s, i) => bigUint(s, `readings[${i}]`, 1n)),
    lines,
    total: int(get('total'), 'total'),
    resets: list(get('resets'), 'resets').map((r, i) => {
      const [reg, from, to] = row(r, 3, `resets[${i}]`);
      if (reg !== 0 && reg !== 1) fail(`resets[${i}].register`, 'must be 0 (import) or 1 (export)');
      return { register: reg === 0 ? 'import' : 'export', fromSeq: bigUint(from, `resets[${i}].fromSeq`, 1n), toSeq: bigUint(to, `resets[${i}].toSeq`, 1n) };
    }),
  };
  checkBill(bill);
  if (toHex(encodeBill(bill)) !== toHex(bytes)) fail('', 'is not the canonical encoding of its content');
  return bill;
}
