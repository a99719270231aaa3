/**
 * The bill engine (docs/billing.md §5-§7): a pure function of a meter's committed
 * readings, its agreements, the tariff versions they name and the chain's currency.
 * Every validator, `meterledger bill verify` and the owner's browser run this same code.
 *
 *   period -> terms (version runs) -> band pieces -> boundaries -> readings used ->
 *   register at each boundary -> energy per piece -> tiers -> lines -> total
 */
import { METER_ID_PATTERN } from '../payload.js';
import type { Bill, BillLine, BillTerm, BillVersion, RegisterReset } from './bill.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { type BillReading, Register, neededReadings, orderReadings, withExportRegister } from './interpolate.js';
import { type BillPeriod, type CycleRule, resolvePeriod } from './period.js';
import { type Fraction, ZERO_FRACTION, addFractions, pow10, roundHalfEven, safeInteger } from './rounding.js';
import { bandPieces, localDaysIn } from './schedule.js';
import type { Currency, Tariff } from './tariff.js';
import { type Agreement, type TermsRun, termsTimeline } from './terms.js';

export interface BillInput {
  readonly meterId: string;
  /** "YYYY-MM", or "cycle-N" on a chain with a cycle rule. */
  readonly period: string;
  /** The chain's short billing cycle, if it has one (dev chains). */
  readonly cycle?: CycleRule;
  /** The chain's currency (genesis). */
  readonly currency: Currency;
  /** The meter's agreements, in any order. */
  readonly agreements: readonly Agreement[];
  /** Tariff versions; at least every version of every tariff the agreements name. */
  readonly tariffs: readonly Tariff[];
  /** The meter's committed readings, in any order (§6.4 says which suffice). */
  readonly readings: readonly BillReading[];
}

/** A stretch of one band under one version, and the import energy in it. */
export interface BillPiece {
  readonly from: number;
  readonly to: number;
  readonly version: number;
  readonly band: number;
  readonly importWh: number;
}

export interface BillExplanation {
  readonly bill: Bill;
  /** Every band piece in time order: what the energy lines add up. */
  readonly pieces: readonly BillPiece[];
  /** The import register over the period: A(end) - A(start) (§6.2). */
  readonly registerDeltaWh: number;
}

const MAX_U64 = 2n ** 64n - 1n;

/** Compute the bill; throws RejectionError with the first applicable code of §9. */
export function computeBill(input: BillInput): Bill {
  return explainBill(input).bill;
}

/** The bill and the pieces it was computed from (for charts and for checking it). */
export function explainBill(input: BillInput): BillExplanation {
  if (typeof input.meterId !== 'string' || !METER_ID_PATTERN.test(input.meterId)) {
    throw new RejectionError(ReasonCode.BILL_READINGS_INVALID, 'meterId must be a meter id [A-Za-z0-9][A-Za-z0-9._-]{0,63}', 'meterId');
  }
  const cur = input.currency;
  if (typeof cur?.code !== 'string' || !/^[A-Z]{3}$/.test(cur.code) || !Number.isSafeInteger(cur.minorUnits) || cur.minorUnits < 0 || cur.minorUnits > 6) {
    throw new RejectionError(ReasonCode.TARIFF_CURRENCY, 'the chain currency must be an ISO 4217 code with 0..6 minor units', 'currency');
  }
  const readings = orderReadings(input.readings, input.meterId);
  const timeline = termsTimeline(input.agreements, input.tariffs);
  const period = resolvePeriod(input.period, timeline, input.cycle);

  // §5.1 the version runs inside the period
  const runs = clip(timeline, period);
  if (runs.length === 0) throw new RejectionError(ReasonCode.BILL_NO_AGREEMENT, `no agreement puts a tariff in force during ${period.label}`, 'agreements');
  const versions: Tariff[] = [];
  const terms: BillTerm[] = runs.map((r) => {
    if (!r.version) throw new RejectionError(ReasonCode.BILL_NO_TARIFF, `tariff "${r.tariff}" has no version in force at ${r.from}`, 'tariffs');
    const v = r.version;
    if (v.currency.code !== cur.code || v.currency.minorUnits !== cur.minorUnits) {
      throw new RejectionError(ReasonCode.TARIFF_CURRENCY, `tariff ${v.id} is in ${v.currency.code}/${v.currency.minorUnits}, the chain in ${cur.code}/${cur.minorUnits}`, 'tariffs');
    }
    let k = versions.indexOf(v);
    if (k < 0) k = versions.push(v) - 1;
    return { from: r.from, to: r.to, version: k };
  });

  // §6.1 readiness
  if (readings.length === 0 || readings[readings.length - 1]!.time < period.end) {
    throw new RejectionError(ReasonCode.BILL_NOT_READY, `no committed reading at or after the end of ${period.label} (${period.end})`, 'readings');
  }

  // §5.2 band pieces, §6.1 the readings each boundary needs
  const pieces = terms.flatMap((t) => bandPieces(versions[t.version]!, t.from, t.to).map((p) => ({ ...p, version: t.version })));
  const importAt = [period.start, period.end];
  for (const p of pieces) importAt.push(p.from, p.to);
  const importValue = (r: BillReading): number => r.importWh;
  const imp = new Register(neededReadings(readings, importAt, importValue).map((i) => readings[i]!), importValue);

  const exportTerms = terms.filter((t) => versions[t.version]!.exportPricePerKWh !== undefined);
  const withExport = exportTerms.length ? withExportRegister(readings) : [];
  const exportValue = (r: BillReading): number => r.exportWh!;
  const exp = new Register(neededReadings(withExport, exportTerms.flatMap((t) => [t.from, t.to]), exportValue).map((i) => withExport[i]!), exportValue);

  // §7.2 energy per piece, tiers filled in time order per tariff
  const counters = new Map<string, bigint>();
  const energy = new Map<string, { version: number; band: number; tier: number; wh: bigint }>();
  const outPieces: BillPiece[] = [];
  for (const p of pieces) {
    const v = versions[p.version]!;
    const wh = imp.at(p.to) - imp.at(p.from);
    outPieces.push({ from: p.from, to: p.to, version: p.version, band: p.band, importWh: safeInteger(wh, 'piece energy') });
    const c0 = counters.get(v.tariff) ?? 0n;
    counters.set(v.tariff, c0 + wh);
    splitTiers(c0, wh, v.tierLimitsWh).forEach((part, tier) => {
      if (part === 0n) return;
      const key = `${p.version}/${p.band}/${tier}`;
      const e = energy.get(key);
      if (e) e.wh += part;
      else energy.set(key, { version: p.version, band: p.band, tier, wh: part });
    });
  }

  // §7.3 lines and amounts
  const m = cur.minorUnits;
  const energyDivisor = pow10(9 - m); // Wh x micro-units/kWh = 10^-9 currency units
  const lines: BillLine[] = [];
  versions.forEach((v, k) => {
    let days: Fraction = ZERO_FRACTION;
    for (const t of terms) if (t.version === k) days = addFractions(days, localDaysIn(v, t.from, t.to));
    if (days.den > MAX_U64 || days.num > MAX_U64) throw new RejectionError(ReasonCode.BILL_OVERFLOW, `standing-charge days ${days.num}/${days.den} need more than 64 bits`, 'days');
    const standing = roundHalfEven(days.num * BigInt(v.standingChargePerDay), days.den * pow10(6 - m));
    lines.push({ kind: 'standing', version: k, days, pricePerDay: v.standingChargePerDay, amount: safeInteger(standing, 'standing charge') });
    const mine = [...energy.values()].filter((e) => e.version === k).sort((a, b) => a.band - b.band || a.tier - b.tier);
    for (const e of mine) {
      const band = v.bands[e.band]!;
      const price = band.pricesPerKWh[e.tier]!;
      lines.push({
        kind: 'energy', version: k, band: band.name, tier: e.tier, energyWh: safeInteger(e.wh, `energy of ${band.name} tier ${e.tier}`),
        pricePerKWh: price, amount: safeInteger(roundHalfEven(e.wh * BigInt(price), energyDivisor), `amount of ${band.name} tier ${e.tier}`),
      });
    }
    if (v.exportPricePerKWh !== undefined) {
      let wh = 0n;
      for (const t of exportTerms) if (t.version === k) wh += exp.at(t.to) - exp.at(t.from);
      if (wh > 0n) {
        const credit = roundHalfEven(wh * BigInt(v.exportPricePerKWh), energyDivisor);
        lines.push({ kind: 'export', version: k, energyWh: safeInteger(wh, 'export energy'), pricePerKWh: v.exportPricePerKWh, amount: safeInteger(-credit, 'export credit') });
      }
    }
  });
  const total = safeInteger(lines.reduce((s, l) => s + BigInt(l.amount), 0n), 'total');

  const used = new Set<bigint>();
  for (const r of imp.used) used.add(r.seq);
  for (const r of exp.used) used.add(r.seq);
  const resets: RegisterReset[] = [
    ...imp.resets.map((s) => ({ register: 'import' as const, ...s })),
    ...exp.resets.map((s) => ({ register: 'export' as const, ...s })),
  ];
  const billVersions: BillVersion[] = versions.map((v) => ({ tariff: v.tariff, id: v.id }));
  const bill: Bill = {
    meterId: input.meterId, period, currency: { code: cur.code, minorUnits: m }, versions: billVersions, terms,
    readings: [...used].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), lines, total, resets,
  };
  return { bill, pieces: outPieces, registerDeltaWh: safeInteger(imp.at(period.end) - imp.at(period.start), 'register delta') };
}

/** The runs of the timeline inside the period that an agreement covers. */
function clip(timeline: readonly TermsRun[], p: BillPeriod): TermsRun[] {
  const out: TermsRun[] = [];
  for (const r of timeline) {
    const from = Math.max(r.from, p.start);
    const to = Math.min(r.to, p.end);
    if (from < to && r.tariff !== null) out.push({ ...r, from, to });
  }
  return out;
}

/**
 * §7.2: energy `wh` added to a counter standing at `c0` fills tier i over the counter's
 * range [limit_i-1, limit_i) (limit_-1 = 0, the last tier unbounded).
 */
export function splitTiers(c0: bigint, wh: bigint, limits: readonly number[]): bigint[] {
  const out: bigint[] = [];
  const c1 = c0 + wh;
  let lo = 0n;
  for (let i = 0; i <= limits.length; i++) {
    const hi = i < limits.length ? BigInt(limits[i]!) : c1 > lo ? c1 : lo;
    const a = c0 > lo ? c0 : lo;
    const b = c1 < hi ? c1 : hi;
    out.push(b > a ? b - a : 0n);
    lo = hi;
  }
  return out;
}
