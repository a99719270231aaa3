/**
 * Tariffs (docs/billing.md §3), shaped after OpenEI's Utility Rate Database: a standing
 * charge per day, energy prices per time-of-use band with the band chosen by month x day
 * type x local hour, optional tiers by energy within a billing period, an export credit,
 * all in integer micro-units of the currency. One document is one version of a tariff,
 * in force from `effectiveFrom`; its id is SHA-256 of its canonical CBOR.
 *
 * Two forms: JSON (what `meterledger tariff publish FILE` reads; errors name the field)
 * and canonical CBOR with integer labels (what is signed and hashed).
 */
import { toHex } from '../bytes.js';
import { decodeCanonicalCbor, encodeCbor } from '../cbor.js';
import { sha256 } from '../hash.js';
import { ReasonCode, RejectionError } from '../errors.js';
import {
  type LocalTimeRules, MAX_INSTANT, MAX_OFFSET_MINUTES, formatInstant, formatOffset, parseInstant, parseLocalDate,
  parseOffset,
} from './localtime.js';

export interface Currency {
  /** ISO 4217 alphabetic code, e.g. "EUR". */
  readonly code: string;
  /** Digits of the minor unit (ISO 4217 "minor unit"): EUR 2, JPY 0, KWD 3. 0..6. */
  readonly minorUnits: number;
}

export interface TariffBand {
  /** Lower-case name, shown on the bill's line: "peak", "off-peak". */
  readonly name: string;
  /** Micro-units of the currency per kWh, one per tier (tierLimitsWh.length + 1). */
  readonly pricesPerKWh: readonly number[];
}

/** The bands of some months: one character per local hour 00..23, the band's index in base 36 (0-9, a-z). */
export interface TariffSeason {
  /** Months 1..12, ascending. Across the schedule every month appears exactly once. */
  readonly months: readonly number[];
  readonly weekday: string;
  readonly weekend: string;
  /** Listed holidays; in JSON it defaults to the weekend's string. */
  readonly holiday: string;
}

export interface TariffContent {
  /** The tariff's name on the ledger, which agreements name; shared by its versions. */
  readonly tariff: string;
  /** Free text for people, e.g. "Home time-of-use 2026". */
  readonly name?: string;
  readonly currency: Currency;
  /** Instant (ms) from which this version is in force. */
  readonly effectiveFrom: number;
  readonly localTime: LocalTimeRules;
  /** Micro-units of the currency per local day. */
  readonly standingChargePerDay: number;
  readonly bands: readonly TariffBand[];
  /** Strictly increasing thresholds of a period's cumulative import, Wh; empty: no tiers. */
  readonly tierLimitsWh: readonly number[];
  readonly schedule: readonly TariffSeason[];
  /** ISO weekdays (1 Monday .. 7 Sunday) that are weekend days, ascending. */
  readonly weekendDays: readonly number[];
  /** Local dates "YYYY-MM-DD", ascending, that are holidays. */
  readonly holidays: readonly string[];
  /** Micro-units of the currency per exported kWh; absent: no export credit. */
  readonly exportPricePerKWh?: number;
}

/** A validated tariff version with its canonical bytes and content id. */
export interface Tariff extends TariffContent {
  /** Hex of SHA-256(bytes). */
  readonly id: string;
  /** The canonical CBOR (docs/billing.md §3.3). */
  readonly bytes: Uint8Array;
}

/** Largest price (per kWh or per day), in micro-units: one million currency units. */
export const MAX_PRICE = 1_000_000_000_000;
export const MAX_BANDS = 36;
export const MAX_TIER_LIMITS = 8;
export const MAX_TRANSITIONS = 512;
export const MAX_HOLIDAYS = 1000;
export const TARIFF_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const BAND_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const CURRENCY_CODE_PATTERN = /^[A-Z]{3}$/;
const HOURS_PATTERN = /^[0-9a-z]{24}$/;

/** CBOR labels of a tariff (docs/billing.md §3.3). */
export const TariffLabel = {
  tariff: 1, name: 2, currency: 3, effectiveFrom: 4, localTime: 5, standingChargePerDay: 6, bands: 7,
  tierLimitsWh: 8, schedule: 9, weekendDays: 10, holidays: 11, exportPricePerKWh: 12,
} as const;

function fail(field: string, msg: string, code: typeof ReasonCode.TARIFF_INVALID | typeof ReasonCode.TARIFF_MALFORMED = ReasonCode.TARIFF_INVALID): never {
  throw new RejectionError(code, `tariff${field ? `.${field}` : ''}: ${msg}`, field || undefined);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array) && !(x instanceof Map);

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(field ? `${field}.${k}` : k, 'is not a field of a tariff');
}

function uint(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer from ${min} to ${max}`);
  return v;
}

function arr(v: unknown, field: string, max: number, min = 0): unknown[] {
  if (!Array.isArray(v)) fail(field, 'must be an array');
  if (v.length < min || v.length > max) fail(field, `must have ${min === max ? min : `${min} to ${max}`} entries`);
  return v;
}

function text(v: unknown, field: string, pattern: RegExp, what: string): string {
  if (typeof v !== 'string' || !pattern.test(v)) fail(field, `must be ${what}`);
  return v;
}

/** Sorted ascending and without repeats; `what` says what the entries are. */
function ascendingUnique<T extends number | string>(xs: readonly T[], field: string, what: string, sort: boolean): T[] {
  const s = sort ? [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : [...xs];
  for (let i = 1; i < s.length; i++) {
    if (s[i] === s[i - 1]) fail(field, `lists ${what} ${String(s[i])} twice`);
    if (s[i]! < s[i - 1]!) fail(field, `must list ${what} in ascending order`);
  }
  return s;
}

/**
 * The checks shared by both forms, over an object whose instants and offsets are already
 * numbers. `sort`: JSON input may list months, weekend days, holidays and seasons in any
 * order (they are sorted); decoded CBOR must already be canonical.
 */
function checkContent(o: Record<string, unknown>, sort: boolean): TariffContent {
  const tariff = text(o.tariff, 'tariff', TARIFF_ID_PATTERN, 'a text of 1..64 characters [A-Za-z0-9._-] starting with a letter or digit');
  let name: string | undefined;
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 128) fail('name', 'must be a text of 1..128 characters');
    name = o.name;
  }
  if (!isObj(o.currency)) fail('currency', 'must be an object { code, minorUnits }');
  const currency: Currency = {
    code: text(o.currency.code, 'currency.code', CURRENCY_CODE_PATTERN, 'an ISO 4217 code of three capital letters, e.g. "EUR"'),
    minorUnits: uint(o.currency.minorUnits, 'currency.minorUnits', 6),
  };
  const effectiveFrom = uint(o.effectiveFrom, 'effectiveFrom', MAX_INSTANT - 1);

  if (!isObj(o.localTime)) fail('localTime', 'must be an object { offset, transitions }');
  const base = o.localTime.offsetMinutes;
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || Math.abs(base) > MAX_OFFSET_MINUTES) fail('localTime.offset', 'must be an offset within ±18:00');
  const transitions = arr(o.localTime.transitions ?? [], 'localTime.transitions', MAX_TRANSITIONS).map((x, i) => {
    const f = `localTime.transitions[${i}]`;
    if (!isObj(x)) fail(f, 'must be an object { at, offset }');
    const at = uint(x.at, `${f}.at`, MAX_INSTANT - 1);
    const off = x.offsetMinutes;
    if (typeof off !== 'number' || !Number.isSafeInteger(off) || Math.abs(off) > MAX_OFFSET_MINUTES) fail(`${f}.offset`, 'must be an offset within ±18:00');
    return { at, offsetMinutes: off };
  });
  transitions.forEach((x, i) => {
    const prev = i === 0 ? undefined : transitions[i - 1]!;
    if (prev && x.at <= prev.at) fail(`localTime.transitions[${i}].at`, 'must be later than the transition before it');
    if (x.offsetMinutes === (prev ? prev.offsetMinutes : base)) fail(`localTime.transitions[${i}].offset`, 'must differ from the offset before it');
  });

  const standingChargePerDay = uint(o.standingChargePerDay, 'standingChargePerDay', MAX_PRICE);
  const tierLimitsWh = arr(o.tierLimitsWh ?? [], 'tierLimitsWh', MAX_TIER_LIMITS).map((x, i) => uint(x, `tierLimitsWh[${i}]`, Number.MAX_SAFE_INTEGER, 1));
  tierLimitsWh.forEach((x, i) => {
    if (i > 0 && x <= tierLimitsWh[i - 1]!) fail(`tierLimitsWh[${i}]`, 'must be greater than the limit before it');
  });
  const bands = arr(o.bands, 'bands', MAX_BANDS, 1).map((b, i): TariffBand => {
    const f = `bands[${i}]`;
    if (!isObj(b)) fail(f, 'must be an object { name, pricesPerKWh }');
    onlyKeys(b, ['name', 'pricesPerKWh'], f);
    const n = tierLimitsWh.length + 1;
    const prices = arr(b.pricesPerKWh, `${f}.pricesPerKWh`, n, n).map((p, k) => uint(p, `${f}.pricesPerKWh[${k}]`, MAX_PRICE));
    return { name: text(b.name, `${f}.name`, BAND_NAME_PATTERN, 'a lower-case name [a-z][a-z0-9_-]{0,31}'), pricesPerKWh: prices };
  });
  ascendingUnique(bands.map((b) => b.name), 'bands', 'the band name', true);

  const seen = new Set<number>();
  const seasons = arr(o.schedule, 'schedule', 12, 1).map((s, i): TariffSeason => {
    const f = `schedule[${i}]`;
    if (!isObj(s)) fail(f, 'must be an object { months, weekday, weekend, holiday }');
    onlyKeys(s, ['months', 'weekday', 'weekend', 'holiday'], f);
    const months = ascendingUnique(arr(s.months, `${f}.months`, 12, 1).map((m, k) => uint(m, `${f}.months[${k}]`, 12, 1)), `${f}.months`, 'month', sort);
    for (const m of months) {
      if (seen.has(m)) fail(`${f}.months`, `month ${m} is already in another season`);
      seen.add(m);
    }
    const hours = (k: 'weekday' | 'weekend' | 'holiday', v: unknown): string => {
      const h = text(v, `${f}.${k}`, HOURS_PATTERN, '24 characters 0-9a-z, the band index for each local hour 00..23');
      for (let c = 0; c < 24; c++) {
        if (parseInt(h[c]!, 36) >= bands.length) fail(`${f}.${k}`, `hour ${c} names band ${h[c]}, but there are ${bands.length} bands (0..${(bands.length - 1).toString(36)})`);
      }
      return h;
    };
    const weekend = hours('weekend', s.weekend);
    return { months, weekday: hours('weekday', s.weekday), weekend, holiday: hours('holiday', s.holiday ?? (sort ? weekend : undefined)) };
  });
  if (seen.size !== 12) fail('schedule', `months ${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].filter((m) => !seen.has(m)).join(', ')} are in no season`);
  if (sort) seasons.sort((a, b) => a.months[0]! - b.months[0]!);
  else seasons.forEach((s, i) => {
    if (i > 0 && s.months[0]! < seasons[i - 1]!.months[0]!) fail('schedule', 'seasons must be in the order of their first month');
  });

  const weekendDays = ascendingUnique(arr(o.weekendDays ?? [6, 7], 'weekendDays', 7).map((d, i) => uint(d, `weekendDays[${i}]`, 7, 1)), 'weekendDays', 'weekday', sort);
  const holidays = ascendingUnique(arr(o.holidays ?? [], 'holidays', MAX_HOLIDAYS).map((d, i) => {
    if (typeof d !== 'string' || parseLocalDate(d) === undefined) fail(`holidays[${i}]`, 'must be a local date "YYYY-MM-DD" from 1970');
    return d;
  }), 'holidays', 'the date', sort);
  let exportPricePerKWh: number | undefined;
  if (o.exportPricePerKWh !== undefined) exportPricePerKWh = uint(o.exportPricePerKWh, 'exportPricePerKWh', MAX_PRICE);

  return {
    tariff, ...(name !== undefined ? { name } : {}), currency, effectiveFrom, localTime: { offsetMinutes: base, transitions },
    standingChargePerDay, bands, tierLimitsWh, schedule: seasons, weekendDays, holidays,
    ...(exportPricePerKWh !== undefined ? { exportPricePerKWh } : {}),
  };
}

const JSON_FIELDS = ['tariff', 'name', 'currency', 'effectiveFrom', 'localTime', 'standingChargePerDay', 'bands', 'tierLimitsWh', 'schedule', 'weekendDays', 'holidays', 'exportPricePerKWh'] as const;

function instantField(v: unknown, field: string): number {
  const t = typeof v === 'string' ? parseInstant(v) : undefined;
  if (t === undefined) fail(field, 'must be an RFC 3339 time with seconds and an offset, e.g. "2026-01-01T00:00:00+01:00", from 1970 to 9999');
  return t;
}

function offsetField(v: unknown, field: string): number {
  const m = typeof v === 'string' ? parseOffset(v) : undefined;
  if (m === undefined) fail(field, 'must be an offset "+HH:MM" or "-HH:MM" within ±18:00');
  return m;
}

/** Validate a parsed JSON tariff (docs/billing.md §3.2); errors are E_TARIFF_INVALID naming the field. */
export function tariffFromJson(doc: unknown): Tariff {
  if (!isObj(doc)) fail('', 'must be a JSON object');
  onlyKeys(doc, JSON_FIELDS, '');
  if (doc.currency !== undefined && isObj(doc.currency)) onlyKeys(doc.currency, ['code', 'minorUnits'], 'currency');
  for (const k of ['tariff', 'currency', 'effectiveFrom', 'localTime', 'standingChargePerDay', 'bands', 'schedule']) {
    if (doc[k] === undefined) fail(k, 'is required');
  }
  const o: Record<string, unknown> = { ...doc };
  o.effectiveFrom = instantField(doc.effectiveFrom, 'effectiveFrom');
  if (!isObj(doc.localTime)) fail('localTime', 'must be an object { offset, transitions }');
  onlyKeys(doc.localTime, ['offset', 'transitions'], 'localTime');
  const trs = doc.localTime.transitions ?? [];
  o.localTime = {
    offsetMinutes: offsetField(doc.localTime.offset, 'localTime.offset'),
    transitions: Array.isArray(trs)
      ? trs.map((x, i) => {
        const f = `localTime.transitions[${i}]`;
        if (!isObj(x)) fail(f, 'must be an object { at, offset }');
        onlyKeys(x, ['at', 'offset'], f);
        return { at: instantField(x.at, `${f}.at`), offsetMinutes: offsetField(x.offset, `${f}.offset`) };
      })
      : trs,
  };
  return seal(checkContent(o, true));
}

/** The JSON form of a tariff; tariffFromJson of it gives the same id. */
export function tariffToJson(t: TariffContent): Record<string, unknown> {
  return {
    tariff: t.tariff, ...(t.name !== undefined ? { name: t.name } : {}),
    currency: { code: t.currency.code, minorUnits: t.currency.minorUnits },
    effectiveFrom: formatInstant(t.effectiveFrom),
    localTime: {
      offset: formatOffset(t.localTime.offsetMinutes),
      transitions: t.localTime.transitions.map((x) => ({ at: formatInstant(x.at), offset: formatOffset(x.offsetMinutes) })),
    },
    standingChargePerDay: t.standingChargePerDay,
    bands: t.bands.map((b) => ({ name: b.name, pricesPerKWh: [...b.pricesPerKWh] })),
    tierLimitsWh: [...t.tierLimitsWh],
    schedule: t.schedule.map((s) => ({ months: [...s.months], weekday: s.weekday, weekend: s.weekend, holiday: s.holiday })),
    weekendDays: [...t.weekendDays],
    holidays: [...t.holidays],
    ...(t.exportPricePerKWh !== undefined ? { exportPricePerKWh: t.exportPricePerKWh } : {}),
  };
}

/** The canonical CBOR of a tariff version (docs/billing.md §3.3). */
export function encodeTariff(t: TariffContent): Uint8Array {
  const L = TariffLabel;
  const m = new Map<number, unknown>([
    [L.tariff, t.tariff],
    [L.currency, [t.currency.code, t.currency.minorUnits]],
    [L.effectiveFrom, t.effectiveFrom],
    [L.localTime, [t.localTime.offsetMinutes, t.localTime.transitions.map((x) => [x.at, x.offsetMinutes])]],
    [L.standingChargePerDay, t.standingChargePerDay],
    [L.bands, t.bands.map((b) => [b.name, [...b.pricesPerKWh]])],
    [L.tierLimitsWh, [...t.tierLimitsWh]],
    [L.schedule, t.schedule.map((s) => [[...s.months], s.weekday, s.weekend, s.holiday])],
    [L.weekendDays, [...t.weekendDays]],
    [L.holidays, [...t.holidays]],
  ]);
  if (t.name !== undefined) m.set(L.name, t.name);
  if (t.exportPricePerKWh !== undefined) m.set(L.exportPricePerKWh, t.exportPricePerKWh);
  return encodeCbor(m);
}

function seal(c: TariffContent): Tariff {
  const bytes = encodeTariff(c);
  return { ...c, id: toHex(sha256(bytes)), bytes };
}

/** The content id: hex of SHA-256 over the canonical CBOR. */
export function tariffId(t: TariffContent): string {
  return toHex(sha256(encodeTariff(t)));
}

const tuple = (v: unknown, n: number, field: string): unknown[] => {
  if (!Array.isArray(v) || v.length !== n) fail(field, `must be an array of ${n}`);
  return v;
};

/**
 * Decode canonical tariff CBOR: E_TARIFF_MALFORMED if it is not deterministic CBOR or not
 * exactly the encoding of what it holds (unsorted lists included), E_TARIFF_INVALID for
 * a broken schema.
 */
export function decodeTariff(bytes: Uint8Array): Tariff {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new RejectionError(ReasonCode.TARIFF_MALFORMED, `tariff: not deterministic CBOR: ${(cause as Error).message}`, undefined, { cause });
  }
  if (!(m instanceof Map)) fail('', 'must be a CBOR map');
  const labels = new Map<number, string>(Object.entries(TariffLabel).map(([k, v]) => [v, k]));
  const o: Record<string, unknown> = {};
  for (const [k, v] of m) {
    const name = typeof k === 'number' ? labels.get(k) : undefined;
    if (name === undefined) fail('', `label ${String(k)} is not a tariff field`);
    o[name] = v;
  }
  for (const req of ['tariff', 'currency', 'effectiveFrom', 'localTime', 'standingChargePerDay', 'bands', 'tierLimitsWh', 'schedule', 'weekendDays', 'holidays']) {
    if (!(req in o)) fail(req, `(label ${TariffLabel[req as keyof typeof TariffLabel]}) is required`);
  }
  const [code, minorUnits] = tuple(o.currency, 2, 'currency');
  o.currency = { code, minorUnits };
  const [offsetMinutes, trs] = tuple(o.localTime, 2, 'localTime');
  o.localTime = {
    offsetMinutes,
    transitions: Array.isArray(trs) ? trs.map((x, i) => {
      const [at, off] = tuple(x, 2, `localTime.transitions[${i}]`);
      return { at, offsetMinutes: off };
    }) : trs,
  };
  if (Array.isArray(o.bands)) o.bands = o.bands.map((b, i) => {
    const [name, pricesPerKWh] = tuple(b, 2, `bands[${i}]`);
    return { name, pricesPerKWh };
  });
  if (Array.isArray(o.schedule)) o.schedule = o.schedule.map((s, i) => {
    const [months, weekday, weekend, holiday] = tuple(s, 4, `schedule[${i}]`);
    return { months, weekday, weekend, holiday };
  });
  const t = seal(checkContent(o, false));
  if (toHex(t.bytes) !== toHex(bytes)) fail('', 'is not the canonical encoding of its content (an integer written as a float?)', ReasonCode.TARIFF_MALFORMED);
  return t;
}
