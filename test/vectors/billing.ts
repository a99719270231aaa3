/**
 * Vectors of the bill engine (docs/billing.md §11): tariffs in both forms with their ids,
 * tariffs that must be refused, rounding, local time, and bills computed from readings,
 * agreements and tariffs, or the code that refuses them. Built by test/vectors/generate.ts
 * into test/vectors/billing.json; test/vectors/vectors.test.ts checks the file is
 * what this builds, and billing-vectors.test.ts checks it against an independent, naive
 * per-minute computation.
 */
import {
  type Agreement, type BillReading, RejectionError, type CycleRule, type Currency, MS_PER_DAY, MS_PER_HOUR, type Tariff,
  billToJson, encodeBill, explainBill, formatInstant, localTimeAt, parseInstant, roundHalfEven, startOfLocalDay,
  tariffFromJson, tariffToJson, toHex, parseLocalDate, dayTypeOf, formatLocalDate, monthPeriod, decodeCanonicalCbor,
  encodeCbor, ReasonCode,
} from '../../protocols/index.js';

/** Instant of an RFC 3339 text (the vectors' inputs are written as text for review). */
export function at(text: string): number {
  const t = parseInstant(text);
  if (t === undefined) throw new Error(`vector builder: bad instant ${text}`);
  return t;
}

const EUR: Currency = { code: 'EUR', minorUnits: 2 };
const ALL_MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const flatHours = (band = '0'): string => band.repeat(24);

/** Central European time in 2026 (EU rule: last Sundays of March and October, 01:00 UTC), written out. */
const CET_2026 = { offset: '+01:00', transitions: [{ at: '2026-03-29T01:00:00Z', offset: '+02:00' }, { at: '2026-10-25T01:00:00Z', offset: '+01:00' }] };

/** The tariffs of the vectors, as a publisher writes them. */
export const TARIFF_JSON: Record<string, Record<string, unknown>> = {
  flat: {
    tariff: 'flat-home', name: 'Flat home 2026', currency: EUR, effectiveFrom: '2026-01-01T00:00:00+01:00',
    localTime: { offset: '+01:00' }, standingChargePerDay: 400_000,
    bands: [{ name: 'all', pricesPerKWh: [250_000] }],
    schedule: [{ months: ALL_MONTHS, weekday: flatHours(), weekend: flatHours() }],
  },
  tou: {
    tariff: 'tou-home', name: 'Home time-of-use 2026', currency: EUR, effectiveFrom: '2026-01-01T00:00:00+01:00',
    localTime: CET_2026, standingChargePerDay: 450_000,
    bands: [{ name: 'night', pricesPerKWh: [120_000] }, { name: 'day', pricesPerKWh: [280_000] }, { name: 'peak', pricesPerKWh: [400_000] }],
    schedule: [
      // listed out of order on purpose: the JSON form sorts seasons and months
      { months: [9, 4, 5, 6, 7, 8], weekday: '000000011111111111222210', weekend: '000000001111111111111110' },
      { months: [1, 2, 3, 10, 11, 12], weekday: '000000011111111112222110', weekend: '000000001111111111111110' },
    ],
    holidays: ['2026-12-25', '2026-01-01', '2026-04-03', '2026-04-06', '2026-05-01'],
    exportPricePerKWh: 80_000,
  },
  tou2: {
    tariff: 'tou-home', name: 'Home time-of-use 2026, from 10 March', currency: EUR, effectiveFrom: '2026-03-10T00:00:00+01:00',
    localTime: CET_2026, standingChargePerDay: 460_000,
    bands: [{ name: 'night', pricesPerKWh: [130_000] }, { name: 'day', pricesPerKWh: [290_000] }, { name: 'peak', pricesPerKWh: [420_000] }],
    schedule: [
      { months: [1, 2, 3, 10, 11, 12], weekday: '000000011111111112222110', weekend: '000000001111111111111110' },
      { months: [4, 5, 6, 7, 8, 9], weekday: '000000011111111111222210', weekend: '000000001111111111111110' },
    ],
    holidays: ['2026-01-01', '2026-04-03', '2026-04-06', '2026-05-01', '2026-12-25'],
    exportPricePerKWh: 75_000,
  },
  tiered: {
    tariff: 'tiered-us', currency: { code: 'USD', minorUnits: 2 }, effectiveFrom: '2026-01-01T00:00:00-05:00',
    localTime: { offset: '-05:00', transitions: [{ at: '2026-03-08T07:00:00Z', offset: '-04:00' }, { at: '2026-11-01T06:00:00Z', offset: '-05:00' }] },
    standingChargePerDay: 300_000, tierLimitsWh: [150_000, 400_000],
    bands: [{ name: 'off-peak', pricesPerKWh: [90_000, 110_000, 140_000] }, { name: 'on-peak', pricesPerKWh: [180_000, 220_000, 260_000] }],
    schedule: [
      { months: [1, 2, 3, 4, 5, 10, 11, 12], weekday: '000000011110000001111000', weekend: flatHours() },
      { months: [6, 7, 8, 9], weekday: '000000000000001111110000', weekend: flatHours() },
    ],
    holidays: ['2026-07-03'],
  },
  round: {
    tariff: 'round-test', name: 'Exact halves', currency: EUR, effectiveFrom: '2026-01-01T00:00:00Z',
    localTime: { offset: '+00:00' }, standingChargePerDay: 5_000,
    bands: [{ name: 'all', pricesPerKWh: [1_000_000] }],
    schedule: [{ months: ALL_MONTHS, weekday: flatHours(), weekend: flatHours() }],
    exportPricePerKWh: 1_000_000,
  },
  yen: {
    tariff: 'jp-flat', currency: { code: 'JPY', minorUnits: 0 }, effectiveFrom: '2026-01-01T00:00:00+09:00',
    localTime: { offset: '+09:00' }, standingChargePerDay: 30_000_000,
    bands: [{ name: 'all', pricesPerKWh: [31_500_000] }],
    schedule: [{ months: ALL_MONTHS, weekday: flatHours(), weekend: flatHours() }],
  },
  nepal: {
    tariff: 'np-tou', currency: { code: 'NPR', minorUnits: 2 }, effectiveFrom: '2026-01-01T00:00:00+05:45',
    localTime: { offset: '+05:45' }, standingChargePerDay: 2_000_000,
    bands: [{ name: 'normal', pricesPerKWh: [9_000_000] }, { name: 'peak', pricesPerKWh: [11_000_000] }, { name: 'off-peak', pricesPerKWh: [5_000_000] }],
    schedule: [{ months: ALL_MONTHS, weekday: '222222111111111110000011', weekend: '222222111111111110000011', holiday: '222222222222222222222222' }],
    weekendDays: [6], holidays: ['2026-02-15'],
  },
};

/** Derived tariffs for refusals: tou's twin in force from the same instant; a price that overflows. */
TARIFF_JSON.touTwin = { ...TARIFF_JSON.tou!, name: 'Home time-of-use 2026 (a second version from the same instant)', standingChargePerDay: 1 };
TARIFF_JSON.huge = { ...TARIFF_JSON.flat!, tariff: 'huge', name: 'A price of 10^12 micro-units per kWh', bands: [{ name: 'all', pricesPerKWh: [1_000_000_000_000] }] };

const tariffs: Record<string, Tariff> = Object.fromEntries(Object.entries(TARIFF_JSON).map(([k, v]) => [k, tariffFromJson(v)]));

// -------------------------------------------------------------------------------- readings

interface SeriesOpts {
  from: string;
  stepMs: number;
  count: number;
  seq0?: bigint;
  wh0: number;
  /** Wh imported between reading i-1 and i */
  inc: (i: number) => number;
  /** cumulative export at reading i, if the meter reports one */
  exp?: (i: number) => number | undefined;
  /** ms added to reading i's time */
  jitter?: (i: number) => number;
}

/** Readings every stepMs from `from`, deterministic consumption. */
function series(o: SeriesOpts): BillReading[] {
  const out: BillReading[] = [];
  let wh = o.wh0;
  const t0 = at(o.from);
  for (let i = 0; i < o.count; i++) {
    if (i > 0) wh += o.inc(i);
    const r: { -readonly [K in keyof BillReading]: BillReading[K] } = { seq: (o.seq0 ?? 1n) + BigInt(i), time: t0 + i * o.stepMs + (o.jitter?.(i) ?? 0), importWh: wh };
    const x = o.exp?.(i);
    if (x !== undefined) r.exportWh = x;
    out.push(r);
  }
  return out;
}

/** A household-ish curve: more by day, a peak in the evening (by the hour of the UTC clock, deterministic). */
const household = (stepMs: number, t0: string) => (i: number): number => {
  const h = new Date(at(t0) + i * stepMs).getUTCHours();
  const base = h < 6 ? 180 : h < 16 ? 420 : h < 21 ? 900 : 300;
  return Math.round((base * stepMs) / MS_PER_HOUR) + ((i * 37) % 53);
};

const readingJson = (r: BillReading): Record<string, unknown> => ({
  seq: r.seq.toString(), time: r.time, importWh: r.importWh, ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}),
});

// ----------------------------------------------------------------------------------- cases

export interface BillCase {
  name: string;
  /** What the case shows, for a reader. */
  note: string;
  meterId?: string;
  period: string;
  currency?: Currency;
  cycle?: { epoch: string; lengthMs: number };
  agreements: { from: string; tariff: string | null }[];
  /** Keys of TARIFF_JSON given to the engine. */
  tariffs: string[];
  readings: BillReading[];
  /** Whether the naive per-minute computation of the test applies (monotone registers, minute-aligned). */
  naive?: boolean;
  /** The code the engine must refuse it with (the builder checks). */
  refuse?: string;
}

const FROM_2026 = [{ from: '2026-01-01T00:00:00+01:00', tariff: 'tou-home' }];

function cases(): BillCase[] {
  const out: BillCase[] = [];
  const six = 6 * MS_PER_HOUR;
  const twelve = 12 * MS_PER_HOUR;

  out.push({
    name: 'flat tariff, March 2026, daily readings at local noon',
    note: 'The period runs from local midnight 1 March (+01:00) to local midnight 1 April; both ends are interpolated between the noon readings around them. One band, no tiers: one energy line, 31 days of standing charge.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'], naive: true,
    readings: series({ from: '2026-02-27T12:00:00+01:00', stepMs: MS_PER_DAY, count: 37, wh0: 1_250_000, inc: (i) => 8_000 + ((i * 1237) % 5000) }),
  });

  out.push({
    name: 'time-of-use, night band crossing midnight, a 2-day cycle, hourly readings at half past',
    note: 'Cycle 0 of 2 days from Monday 5 January 2026 00:00 +01:00. Night runs 23:00-07:00 across midnight as one piece; every band boundary falls between two readings and is interpolated (floor).',
    period: 'cycle-0', cycle: { epoch: '2026-01-05T00:00:00+01:00', lengthMs: 2 * MS_PER_DAY }, agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-01-04T23:30:00+01:00', stepMs: MS_PER_HOUR, count: 50, wh0: 73_000, inc: household(MS_PER_HOUR, '2026-01-04T22:30:00Z') }),
  });

  out.push({
    name: 'time-of-use, April 2026 (summer time), readings every 12 hours at :17, two holidays',
    note: 'Good Friday (3 April) and Easter Monday (6 April) are listed holidays and take the weekend hours; weekends and weekdays alternate. Tiers absent: one line per band.',
    period: '2026-04', agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-03-31T18:17:00+02:00', stepMs: twelve, count: 63, wh0: 2_000_000, inc: household(twelve, '2026-03-31T16:17:00Z') }),
  });

  out.push({
    name: 'DST spring forward: March 2026 under CET/CEST transitions',
    note: 'Transition at 2026-03-29T01:00Z (02:00 +01:00 becomes 03:00 +02:00). The month still has 31 local days (one of 23 h): standing charge 31 x rate. Bands after the change follow the new local hours. Version 2 of tou-home is in force from 10 March.',
    period: '2026-03', agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-02-28T19:05:00+01:00', stepMs: six, count: 126, wh0: 5_500_000, inc: household(six, '2026-02-28T18:05:00Z') }),
  });

  out.push({
    name: 'DST fall back: a 2-day cycle across 25 October 2026, hourly readings, the repeated hour',
    note: 'At 2026-10-25T01:00Z clocks go from 03:00 +02:00 back to 02:00 +01:00: local 02:00-03:00 happens twice and both are night. The cycle is 48 h of real time from 24 October 00:00 +02:00, so it ends at 25 October 23:00 +01:00: 1 + 24/25 local days (25 October lasts 25 h, 24 of them in the cycle).',
    period: 'cycle-0', cycle: { epoch: '2026-10-24T00:00:00+02:00', lengthMs: 2 * MS_PER_DAY }, agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-10-23T23:40:00+02:00', stepMs: MS_PER_HOUR, count: 51, wh0: 9_100_000, inc: household(MS_PER_HOUR, '2026-10-23T21:40:00Z') }),
  });

  out.push({
    name: 'DST fall back: October 2026 month',
    note: '31 local days (one of 25 h); the period ends at 1 November 00:00 +01:00.',
    period: '2026-10', agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-09-30T20:00:00+02:00', stepMs: twelve, count: 64, wh0: 7_000_000, inc: household(twelve, '2026-09-30T18:00:00Z') }),
  });

  out.push({
    name: 'tiers across bands: June 2026, three tiers filled in time order',
    note: 'Limits 150 kWh and 400 kWh on the period\'s cumulative import. Each band piece, in time order, fills the counter; the part of it below a limit is priced at that tier\'s price of the piece\'s band. Local time -04:00 (EDT).',
    period: '2026-06', currency: { code: 'USD', minorUnits: 2 }, agreements: [{ from: '2026-01-01T00:00:00-05:00', tariff: 'tiered-us' }], tariffs: ['tiered'], naive: true,
    readings: series({ from: '2026-05-31T21:00:00-04:00', stepMs: twelve, count: 62, wh0: 310_000, inc: (i) => 6_000 + ((i * 977) % 5_000) }),
  });

  out.push({
    name: 'export credit: May 2026, import and export registers',
    note: 'The export register is interpolated like the import one, at the period\'s ends and the version boundaries only (export has no bands). The credit is a negative line.',
    period: '2026-05', agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({
      from: '2026-04-30T19:00:00+02:00', stepMs: twelve, count: 64, wh0: 3_300_000, inc: household(twelve, '2026-04-30T17:00:00Z'),
      exp: (i) => 800_000 + Math.floor(i / 2) * 9_000 + (i % 2 === 1 ? 6_500 : 0),
    }),
  });

  out.push({
    name: 'tariff switch mid-period: a new version on 10 March, then another tariff from 20 March 14:30',
    note: 'Three runs: tou-home version 1 to 10 March, version 2 to 20 March 14:30 +01:00, then flat-home. Standing days are counted per version, a split day shared by time. The month\'s end comes from flat-home\'s local time (+01:00, no summer time): 1 April 00:00 +01:00, because flat-home is in force at 1 April 00:00Z.',
    period: '2026-03',
    agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'tou-home' }, { from: '2026-03-20T14:30:00+01:00', tariff: 'flat-home' }],
    tariffs: ['tou', 'tou2', 'flat'], naive: true,
    readings: series({ from: '2026-02-28T20:10:00+01:00', stepMs: six, count: 126, wh0: 1_000_000, inc: household(six, '2026-02-28T19:10:00Z'), exp: (i) => 40_000 + i * 150 }),
  });

  out.push({
    name: 'agreement ends mid-period',
    note: 'From 15 March 00:00 +01:00 no agreement is in force (tariff null): only 1-15 March is billed.',
    period: '2026-03',
    agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }, { from: '2026-03-15T00:00:00+01:00', tariff: null }],
    tariffs: ['flat'], naive: true,
    readings: series({ from: '2026-02-27T12:00:00+01:00', stepMs: MS_PER_DAY, count: 37, wh0: 50_000, inc: (i) => 6_000 + ((i * 311) % 900) }),
  });

  out.push({
    name: 'missing reading: none at or after the period end', refuse: ReasonCode.BILL_NOT_READY,
    note: 'The last committed reading is at 31 March 20:00 local: E_BILL_NOT_READY.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'],
    readings: series({ from: '2026-02-27T20:00:00+01:00', stepMs: MS_PER_DAY, count: 33, wh0: 10_000, inc: () => 7_000 }),
  });

  out.push({
    name: 'a reading exactly at the period end is enough',
    note: 'The register at an instant with a reading is that reading\'s value; only it is used there.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'], naive: true,
    readings: series({ from: '2026-03-01T00:00:00+01:00', stepMs: MS_PER_DAY, count: 32, wh0: 10_000, inc: (i) => 7_000 + i }),
  });

  const before = series({ from: '2026-02-28T12:00:00+01:00', stepMs: MS_PER_DAY, count: 16, wh0: 1_234_000, inc: (i) => 9_000 + i * 10 });
  const after = series({ from: '2026-03-16T12:00:00+01:00', stepMs: MS_PER_DAY, count: 18, seq0: 17n, wh0: 120, inc: (i) => 9_000 + i * 10 });
  out.push({
    name: 'register goes backwards: meter replaced on 15-16 March',
    note: 'The reading of 16 March 12:00 (120 Wh) is below the one before it (15 March 12:00). Both are needed readings; the day between them contributes 0 and is listed in resets; the new register counts from its first reading.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'],
    readings: [...before, ...after],
  });

  out.push({
    name: 'first reading after the period start anchors the register',
    note: 'The meter\'s first reading is on 10 March: before it the register is taken as that reading\'s value, so 1-10 March has no energy; the standing charge covers the whole month.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'], naive: true,
    readings: series({ from: '2026-03-10T09:00:00+01:00', stepMs: MS_PER_DAY, count: 23, wh0: 0, inc: () => 5_500 }),
  });

  out.push({
    name: 'readings out of order, two at the same instant, one exactly on a band boundary',
    note: 'Readings are taken in (time, seq) order whatever order they come in. Two readings at 07:00 +01:00 (a band boundary): the register there is the one with the higher seq.',
    period: 'cycle-0', cycle: { epoch: '2026-01-05T00:00:00+01:00', lengthMs: MS_PER_DAY }, agreements: FROM_2026, tariffs: ['tou', 'tou2'],
    readings: [
      { seq: 9n, time: at('2026-01-05T21:30:00+01:00'), importWh: 31_000 },
      { seq: 3n, time: at('2026-01-05T07:00:00+01:00'), importWh: 21_500 },
      { seq: 1n, time: at('2026-01-04T22:10:00+01:00'), importWh: 20_000 },
      { seq: 4n, time: at('2026-01-05T07:00:00+01:00'), importWh: 21_600 },
      { seq: 2n, time: at('2026-01-05T03:00:00+01:00'), importWh: 20_900 },
      { seq: 6n, time: at('2026-01-05T16:45:00+01:00'), importWh: 26_000 },
      { seq: 7n, time: at('2026-01-05T17:20:00+01:00'), importWh: 26_700 },
      { seq: 5n, time: at('2026-01-05T12:00:00+01:00'), importWh: 24_000 },
      { seq: 8n, time: at('2026-01-05T20:50:00+01:00'), importWh: 30_100 },
      { seq: 10n, time: at('2026-01-06T00:40:00+01:00'), importWh: 31_900 },
    ],
  });

  out.push({
    name: 'export register missing from the last readings',
    note: 'Only readings carrying exportWh define the export register; after the last of them it stays at that value (no more credit), before the first at the first\'s.',
    period: 'cycle-0', cycle: { epoch: '2026-05-04T00:00:00+02:00', lengthMs: MS_PER_DAY }, agreements: FROM_2026, tariffs: ['tou', 'tou2'], naive: true,
    readings: series({ from: '2026-05-03T23:00:00+02:00', stepMs: 2 * MS_PER_HOUR, count: 14, wh0: 400_000, inc: () => 700, exp: (i) => (i <= 9 ? 90_000 + i * 1_111 : undefined) }),
  });

  out.push({
    name: 'a non-whole-hour offset (+05:45), three bands, a holiday',
    note: 'Local hours start at :15 UTC. 15 February 2026 is a listed holiday (all off-peak); Saturday is the only weekend day.',
    period: 'cycle-0', currency: { code: 'NPR', minorUnits: 2 }, cycle: { epoch: '2026-02-14T00:00:00+05:45', lengthMs: 2 * MS_PER_DAY },
    agreements: [{ from: '2026-01-01T00:00:00+05:45', tariff: 'np-tou' }], tariffs: ['nepal'], naive: true,
    readings: series({ from: '2026-02-13T18:00:00Z', stepMs: MS_PER_HOUR, count: 50, wh0: 33_000, inc: household(MS_PER_HOUR, '2026-02-13T18:00:00Z') }),
  });

  out.push({
    name: 'no minor units (JPY): February 2026',
    note: 'Amounts are whole yen: divisor 10^9 for energy, 10^6 for the standing charge.',
    period: '2026-02', currency: { code: 'JPY', minorUnits: 0 }, agreements: [{ from: '2026-01-01T00:00:00+09:00', tariff: 'jp-flat' }], tariffs: ['yen'], naive: true,
    readings: series({ from: '2026-01-31T12:00:00+09:00', stepMs: MS_PER_DAY, count: 30, wh0: 880_000, inc: (i) => 9_000 + ((i * 53) % 700) }),
  });

  // Exact halves: 1-hour cycles at a 1 EUR/kWh price, so an amount is Wh / 10 cents.
  const hourCycle = { epoch: '2026-01-01T00:00:00Z', lengthMs: MS_PER_HOUR };
  const half = (name: string, importDelta: number, exportDelta: number, note: string): void => {
    out.push({
      name, note, period: 'cycle-0', cycle: hourCycle, agreements: [{ from: '2026-01-01T00:00:00Z', tariff: 'round-test' }], tariffs: ['round'], naive: true,
      readings: [
        { seq: 1n, time: at('2026-01-01T00:00:00Z'), importWh: 1_000, exportWh: 2_000 },
        { seq: 2n, time: at('2026-01-01T01:00:00Z'), importWh: 1_000 + importDelta, exportWh: 2_000 + exportDelta },
      ],
    });
  };
  half('rounding: 5 Wh at 1 EUR/kWh is 0.5 cent, rounds to 0 (even)', 5, 0, 'Half-even: 0.5 -> 0.');
  half('rounding: 15 Wh is 1.5 cents, rounds to 2 (even)', 15, 0, 'Half-even: 1.5 -> 2.');
  half('rounding: 25 Wh is 2.5 cents, rounds to 2 (even)', 25, 0, 'Half-even: 2.5 -> 2.');
  half('rounding: 35 Wh is 3.5 cents, rounds to 4 (even)', 35, 0, 'Half-even: 3.5 -> 4.');
  half('rounding: 24 Wh is 2.4 cents, rounds to 2; 26 Wh export is a 2.6-cent credit, -3', 24, 26, 'Not halves: nearest.');
  half('rounding: export 15 Wh is a 1.5-cent credit, -2', 0, 15, 'A credit rounds by its magnitude, the same rule (half-even is symmetric): -1.5 -> -2.');
  half('rounding: export 25 Wh is a 2.5-cent credit, -2', 0, 25, 'Half-even: -2.5 -> -2.');
  half('rounding: export 5 Wh is a 0.5-cent credit, 0', 0, 5, 'Half-even: -0.5 -> 0; the export line is still listed (its energy is positive).');
  const dayCycle = (days: number, name: string, note: string): void => {
    out.push({
      name, note, period: 'cycle-0', cycle: { epoch: '2026-01-01T00:00:00Z', lengthMs: days * MS_PER_DAY },
      agreements: [{ from: '2026-01-01T00:00:00Z', tariff: 'round-test' }], tariffs: ['round'], naive: true,
      readings: [{ seq: 1n, time: at('2026-01-01T00:00:00Z'), importWh: 500 }, { seq: 2n, time: at('2026-01-01T00:00:00Z') + days * MS_PER_DAY, importWh: 500 }],
    });
  };
  dayCycle(1, 'rounding: standing charge 0.5 cent (1 day at 5,000 micro-units), rounds to 0', 'No energy: only the standing line.');
  dayCycle(3, 'rounding: standing charge 1.5 cents (3 days), rounds to 2', 'Half-even: 1.5 -> 2.');
  dayCycle(5, 'rounding: standing charge 2.5 cents (5 days), rounds to 2', 'Half-even: 2.5 -> 2.');

  // Refusals
  const flatAg = [{ from: '2026-01-01T00:00:00+01:00', tariff: 'flat-home' }];
  const someReadings = series({ from: '2026-02-27T12:00:00+01:00', stepMs: MS_PER_DAY, count: 37, wh0: 1_000, inc: () => 5_000 });
  out.push({ refuse: 'E_BILL_NO_AGREEMENT', name: 'refused: no agreement', note: 'E_BILL_NO_AGREEMENT: the meter has no agreement at all.', period: '2026-03', agreements: [], tariffs: ['flat'], readings: someReadings });
  out.push({ refuse: 'E_BILL_NO_AGREEMENT', name: 'refused: agreement in force only after the period', note: 'E_BILL_NO_AGREEMENT: nothing of March is covered.', period: '2026-03', agreements: [{ from: '2026-04-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'], readings: someReadings });
  out.push({ refuse: 'E_BILL_NO_TARIFF', name: 'refused: the tariff has no version in force yet', note: 'E_BILL_NO_TARIFF: flat-home takes effect on 1 January 2026; the agreement starts in December.', period: '2025-12', agreements: [{ from: '2025-11-01T00:00:00+01:00', tariff: 'flat-home' }], tariffs: ['flat'], readings: series({ from: '2025-11-27T12:00:00+01:00', stepMs: MS_PER_DAY, count: 40, wh0: 1_000, inc: () => 5_000 }) });
  out.push({ refuse: 'E_BILL_NO_TARIFF', name: 'refused: an unknown tariff', note: 'E_BILL_NO_TARIFF: no version of "ghost" is given.', period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'ghost' }], tariffs: ['flat'], readings: someReadings });
  out.push({ refuse: 'E_TARIFF_CURRENCY', name: 'refused: the tariff\'s currency is not the chain\'s', note: 'E_TARIFF_CURRENCY: the chain is in USD.', period: '2026-03', currency: { code: 'USD', minorUnits: 2 }, agreements: flatAg, tariffs: ['flat'], readings: someReadings });
  out.push({ refuse: 'E_BILL_READINGS_INVALID', name: 'refused: two readings with one seq', note: 'E_BILL_READINGS_INVALID.', period: '2026-03', agreements: flatAg, tariffs: ['flat'], readings: [...someReadings, { seq: 5n, time: at('2026-03-20T00:00:00Z'), importWh: 99_000 }] });
  out.push({ refuse: 'E_BILL_AGREEMENTS_INVALID', name: 'refused: two agreements from the same instant', note: 'E_BILL_AGREEMENTS_INVALID.', period: '2026-03', agreements: [...flatAg, { from: '2026-01-01T00:00:00+01:00', tariff: 'tou-home' }], tariffs: ['flat', 'tou'], readings: someReadings });
  out.push({ refuse: 'E_BILL_PERIOD_INVALID', name: 'refused: a cycle label on a chain without a cycle rule', note: 'E_BILL_PERIOD_INVALID.', period: 'cycle-3', agreements: flatAg, tariffs: ['flat'], readings: someReadings });
  out.push({ refuse: 'E_TARIFF_CONFLICT', name: 'refused: two versions of one tariff from the same instant', note: 'E_TARIFF_CONFLICT: tou and its twin both take effect on 1 January 2026.', period: '2026-03', agreements: FROM_2026, tariffs: ['tou', 'touTwin'], readings: someReadings });
  out.push({
    refuse: 'E_BILL_OVERFLOW', name: 'refused: an amount beyond 2^53-1 minor units', note: 'E_BILL_OVERFLOW: 2^43 Wh at 10^12 micro-units per kWh is about 8.8 x 10^17 cents.',
    period: '2026-03', agreements: [{ from: '2026-01-01T00:00:00+01:00', tariff: 'huge' }], tariffs: ['huge'],
    readings: [{ seq: 1n, time: at('2026-03-01T00:00:00+01:00'), importWh: 0 }, { seq: 2n, time: at('2026-04-01T00:00:00+01:00'), importWh: 2 ** 43 }],
  });
  out.push({ refuse: 'E_BILL_PERIOD_INVALID', name: 'refused: month 13', note: 'E_BILL_PERIOD_INVALID.', period: '2026-13', agreements: flatAg, tariffs: ['flat'], readings: someReadings });
  return out;
}

// -------------------------------------------------------------------------- invalid tariffs

/** A refused tariff: the "tou" vector tariff's JSON with `set` fields replaced and `remove` fields deleted. */
interface InvalidTariff { name: string; set: Record<string, unknown>; remove: string[]; code: string; field: string }

function invalidTariffs(): InvalidTariff[] {
  const w = (name: string, change: Record<string, unknown>, field: string, code: string = ReasonCode.TARIFF_INVALID): InvalidTariff => ({
    name, set: Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)),
    remove: Object.keys(change).filter((k) => change[k] === undefined), code, field,
  });
  const tiers = { tierLimitsWh: [100_000] };
  return [
    w('unknown field "rate"', { rate: 1 }, 'rate'),
    w('tariff name missing', { tariff: undefined }, 'tariff'),
    w('tariff name with a space', { tariff: 'tou home' }, 'tariff'),
    w('currency missing', { currency: undefined }, 'currency'),
    w('currency code in lower case', { currency: { code: 'eur', minorUnits: 2 } }, 'currency.code'),
    w('currency minor units 7', { currency: { code: 'EUR', minorUnits: 7 } }, 'currency.minorUnits'),
    w('effectiveFrom without an offset', { effectiveFrom: '2026-01-01T00:00:00' }, 'effectiveFrom'),
    w('effectiveFrom as a number', { effectiveFrom: 1767222000000 }, 'effectiveFrom'),
    w('effectiveFrom 30 February', { effectiveFrom: '2026-02-30T00:00:00Z' }, 'effectiveFrom'),
    w('offset +19:00', { localTime: { offset: '+19:00' } }, 'localTime.offset'),
    w('offset "-00:00"', { localTime: { offset: '-00:00' } }, 'localTime.offset'),
    w('transitions not increasing', { localTime: { offset: '+01:00', transitions: [{ at: '2026-10-25T01:00:00Z', offset: '+02:00' }, { at: '2026-03-29T01:00:00Z', offset: '+01:00' }] } }, 'localTime.transitions[1].at'),
    w('a transition that keeps the offset', { localTime: { offset: '+01:00', transitions: [{ at: '2026-03-29T01:00:00Z', offset: '+01:00' }] } }, 'localTime.transitions[0].offset'),
    w('standing charge negative', { standingChargePerDay: -1 }, 'standingChargePerDay'),
    w('standing charge 0.45 (a float)', { standingChargePerDay: 0.45 }, 'standingChargePerDay'),
    w('price above 10^12', { bands: [{ name: 'night', pricesPerKWh: [1_000_000_000_001] }, { name: 'day', pricesPerKWh: [1] }, { name: 'peak', pricesPerKWh: [1] }] }, 'bands[0].pricesPerKWh[0]'),
    w('one price per band but two tiers', tiers, 'bands[0].pricesPerKWh'),
    w('tier limits not increasing', { tierLimitsWh: [200_000, 100_000], bands: [{ name: 'night', pricesPerKWh: [1, 2, 3] }] }, 'tierLimitsWh[1]'),
    w('tier limit 0', { tierLimitsWh: [0], bands: [{ name: 'night', pricesPerKWh: [1, 2] }] }, 'tierLimitsWh[0]'),
    w('no bands', { bands: [] }, 'bands'),
    w('two bands named "day"', { bands: [{ name: 'night', pricesPerKWh: [1] }, { name: 'day', pricesPerKWh: [2] }, { name: 'day', pricesPerKWh: [3] }] }, 'bands'),
    w('band name in capitals', { bands: [{ name: 'Night', pricesPerKWh: [1] }, { name: 'day', pricesPerKWh: [2] }, { name: 'peak', pricesPerKWh: [3] }] }, 'bands[0].name'),
    w('an hour names band 3 of 3', { schedule: [{ months: ALL_MONTHS, weekday: '000000011111111112223110', weekend: flatHours() }] }, 'schedule[0].weekday'),
    w('23 hours in a day', { schedule: [{ months: ALL_MONTHS, weekday: '00000001111111111222211', weekend: flatHours() }] }, 'schedule[0].weekday'),
    w('month 4 in no season', { schedule: [{ months: [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12], weekday: flatHours(), weekend: flatHours() }] }, 'schedule'),
    w('month 3 in two seasons', { schedule: [{ months: [1, 2, 3], weekday: flatHours(), weekend: flatHours() }, { months: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], weekday: flatHours(), weekend: flatHours() }] }, 'schedule[1].months'),
    w('month 13', { schedule: [{ months: [...ALL_MONTHS, 13], weekday: flatHours(), weekend: flatHours() }] }, 'schedule[0].months'),
    w('holiday 2026-02-29', { holidays: ['2026-02-29'] }, 'holidays[0]'),
    w('a holiday listed twice', { holidays: ['2026-01-01', '2026-01-01'] }, 'holidays'),
    w('weekend day 8', { weekendDays: [6, 8] }, 'weekendDays[1]'),
    w('export price as text', { exportPricePerKWh: '80000' }, 'exportPricePerKWh'),
  ];
}

/** Tariff CBOR that must be refused: not canonical, or an unknown label. */
function invalidTariffBytes(): { name: string; cbor: string; code: string; field?: string }[] {
  const t = tariffs.flat!;
  const hex = toHex(t.bytes);
  // standingChargePerDay (label 6) 400000 = 1a 00061a80; as a float64 it is not canonical
  const asFloat = hex.replace('061a00061a80', '06fb41186a0000000000');
  if (asFloat === hex) throw new Error('vector builder: tariff layout changed');
  const withLabel = toHex(encodeCbor(new Map<number, unknown>([...decodeMap(t.bytes), [13, 1]])));
  const unsorted = new Map(decodeMap(tariffs.tou!.bytes));
  unsorted.set(11, [...(unsorted.get(11) as string[])].reverse());
  return [
    { name: 'standing charge written as a float64', cbor: asFloat, code: ReasonCode.TARIFF_MALFORMED },
    { name: 'trailing byte', cbor: `${hex}00`, code: ReasonCode.TARIFF_MALFORMED },
    { name: 'unknown label 13', cbor: withLabel, code: ReasonCode.TARIFF_INVALID },
    { name: 'holidays not in ascending order', cbor: toHex(encodeCbor(unsorted)), code: ReasonCode.TARIFF_INVALID, field: 'holidays' },
  ];
}

/** A canonical tariff's label map, to alter one field. */
const decodeMap = (bytes: Uint8Array): Map<number, unknown> => decodeCanonicalCbor(bytes) as Map<number, unknown>;

/** The refused tariffs' documents: base with `set` replacing and `remove` deleting fields. */
export function patchTariff(base: Record<string, unknown>, set: Record<string, unknown>, remove: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ...set };
  for (const k of remove) delete out[k];
  return out;
}

// ------------------------------------------------------------------------------- the file

function runCase(c: BillCase): Record<string, unknown> {
  const cycle: CycleRule | undefined = c.cycle ? { epoch: at(c.cycle.epoch), lengthMs: c.cycle.lengthMs } : undefined;
  const agreements: Agreement[] = c.agreements.map((a) => ({ from: at(a.from), tariff: a.tariff }));
  const input = {
    meterId: c.meterId ?? 'meter-ed-0001', period: c.period, ...(cycle ? { cycle } : {}), currency: c.currency ?? EUR,
    agreements, tariffs: c.tariffs.map((k) => tariffs[k]!), readings: c.readings,
  };
  const common = {
    name: c.name, note: c.note, ...(c.naive ? { naive: true } : {}),
    input: {
      meterId: input.meterId, period: c.period, currency: input.currency,
      ...(cycle ? { cycle: { epoch: cycle.epoch, lengthMs: cycle.lengthMs } } : {}),
      agreements: agreements.map((a) => ({ from: a.from, tariff: a.tariff })),
      tariffs: input.tariffs.map((t) => t.id),
      readings: c.readings.map(readingJson),
    },
  };
  try {
    const ex = explainBill(input);
    if (c.refuse) throw new Error(`vector builder: "${c.name}" was computed, not refused with ${c.refuse}`);
    return {
      ...common,
      bill: billToJson(ex.bill),
      billCbor: toHex(encodeBill(ex.bill)),
      periodText: { start: formatInstant(ex.bill.period.start), end: formatInstant(ex.bill.period.end) },
      registerDeltaWh: ex.registerDeltaWh,
      pieces: ex.pieces.map((p) => ({ from: p.from, to: p.to, version: p.version, band: p.band, importWh: p.importWh })),
    };
  } catch (e) {
    if (!(e instanceof RejectionError) || e.code !== c.refuse) throw new Error(`vector builder: "${c.name}": ${(e as Error).message}`, { cause: e });
    return { ...common, error: { code: e.code, ...(e.field !== undefined ? { field: e.field } : {}) } };
  }
}

function roundingVectors(): { num: string; den: string; halfEven: string }[] {
  const pairs: [bigint, bigint][] = [
    [5n, 10n], [15n, 10n], [25n, 10n], [35n, 10n], [-5n, 10n], [-15n, 10n], [-25n, 10n], [14n, 10n], [16n, 10n], [-14n, 10n], [-16n, 10n],
    [0n, 7n], [1n, 2n], [3n, 2n], [-1n, 2n], [-3n, 2n], [2n * 10n ** 27n + 5n * 10n ** 8n, 10n ** 9n], [123_456_789n, 1_000_000n], [-123_456_789n, 1_000_000n],
  ];
  return pairs.map(([n, d]) => ({ num: n.toString(), den: d.toString(), halfEven: roundHalfEven(n, d).toString() }));
}

function localTimeVectors(): Record<string, unknown>[] {
  const tou = tariffs.tou!;
  const nepal = tariffs.nepal!;
  const instants = ['2026-03-29T00:59:59.999Z', '2026-03-29T01:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z', '2026-04-03T10:00:00Z', '2026-01-04T23:00:00Z', '2026-12-31T23:00:00Z'];
  const rows: Record<string, unknown>[] = instants.map((s) => {
    const t = at(s);
    const lt = localTimeAt(tou.localTime, t);
    return {
      tariff: 'tou', instant: t, instantText: s, offsetMinutes: lt.offsetMinutes, localDate: formatLocalDate(lt.days), hour: lt.hour,
      weekday: lt.weekday, dayType: dayTypeOf(tou, lt.days, lt.weekday),
    };
  });
  for (const s of ['2026-02-14T18:14:59Z', '2026-02-14T18:15:00Z', '2026-02-15T05:00:00Z']) {
    const t = at(s);
    const lt = localTimeAt(nepal.localTime, t);
    rows.push({ tariff: 'nepal', instant: t, instantText: s, offsetMinutes: lt.offsetMinutes, localDate: formatLocalDate(lt.days), hour: lt.hour, weekday: lt.weekday, dayType: dayTypeOf(nepal, lt.days, lt.weekday) });
  }
  return rows;
}

function dayStartVectors(): Record<string, unknown>[] {
  const tou = tariffs.tou!;
  return ['2026-03-29', '2026-03-30', '2026-10-25', '2026-10-26', '2026-01-01'].map((d) => {
    const t = startOfLocalDay(tou.localTime, parseLocalDate(d)!);
    return { tariff: 'tou', localDate: d, start: t, startText: formatInstant(t) };
  }).concat(['2026-03', '2026-10'].map((m) => {
    const p = monthPeriod(tou.localTime, m);
    return { tariff: 'tou', month: m, start: p.start, end: p.end, startText: formatInstant(p.start), endText: formatInstant(p.end) } as never;
  }));
}

export function buildBilling(): unknown {
  return {
    description: 'The bill engine (docs/billing.md). Tariffs in JSON (as published) with their canonical JSON, canonical CBOR and id; refused tariffs with code and field; round-half-even; local time; bills computed from the inputs, or the refusal. Instants are ms since 1970-01-01T00:00:00Z; seqs are decimal strings; amounts are integer minor units.',
    tariffs: Object.entries(TARIFF_JSON).map(([key, json]) => {
      const t = tariffs[key]!;
      return { key, json, canonicalJson: tariffToJson(t), cbor: toHex(t.bytes), id: t.id };
    }),
    invalidTariffs: invalidTariffs().map((v) => {
      try {
        tariffFromJson(patchTariff(TARIFF_JSON.tou!, v.set, v.remove));
      } catch (e) {
        if (e instanceof RejectionError && e.code === v.code && e.field === v.field) return v;
        throw new Error(`vector builder: "${v.name}" refused as ${(e as RejectionError).code} at ${(e as RejectionError).field}: ${(e as Error).message}`);
      }
      throw new Error(`vector builder: "${v.name}" was accepted`);
    }),
    invalidTariffCbor: invalidTariffBytes(),
    roundHalfEven: roundingVectors(),
    localTime: localTimeVectors(),
    dayStarts: dayStartVectors(),
    bills: cases().map(runCase),
  };
}
