/**
 * Properties of the bill engine (fast-check) over random tariffs (offsets, transitions at
 * any millisecond, bands, tiers, holidays), random readings (any millisecond, registers
 * that sometimes drop, export sometimes missing) and random switches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type Agreement, type Bill, type BillInput, type BillReading, MS_PER_DAY, MS_PER_HOUR, type Tariff, addFractions, billFromJson,
  billToJson, compareBills, computeBill, decodeBill, decodeTariff, encodeBill, explainBill, formatInstant, formatOffset, tariffFromJson,
  tariffToJson, toHex, ZERO_FRACTION, type Fraction,
} from '../../../protocols/index.js';

const EPOCH = Date.parse('2026-03-20T00:00:00Z');
const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

const tariffArb = (name: string, from: number): fc.Arbitrary<Tariff> => fc.record({
  offset: fc.integer({ min: -720, max: 840 }),
  transitions: fc.array(fc.record({ dt: fc.integer({ min: 1, max: 4 * MS_PER_DAY }), offset: fc.integer({ min: -720, max: 840 }) }), { maxLength: 3 }),
  nBands: fc.integer({ min: 1, max: 4 }),
  limits: fc.uniqueArray(fc.integer({ min: 1, max: 40_000 }), { maxLength: 2 }),
  prices: fc.array(fc.integer({ min: 0, max: 900_000 }), { minLength: 12, maxLength: 12 }),
  hours: fc.array(fc.array(fc.nat(3), { minLength: 24, maxLength: 24 }), { minLength: 3, maxLength: 3 }),
  standing: fc.integer({ min: 0, max: 2_000_000 }),
  exportPrice: fc.option(fc.integer({ min: 0, max: 300_000 }), { nil: undefined }),
  holiday: fc.boolean(),
  weekendDays: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { maxLength: 3 }),
}).map((x) => {
  const limits = [...x.limits].sort((a, b) => a - b);
  let at = EPOCH - 2 * MS_PER_DAY;
  let prev = x.offset;
  const transitions = [];
  for (const tr of x.transitions) {
    at += tr.dt;
    const o = tr.offset === prev ? prev + 30 : tr.offset;
    transitions.push({ at: formatInstant(at), offset: formatOffset(o) });
    prev = o;
  }
  const hours = x.hours.map((h) => h.map((b) => (b % x.nBands).toString(36)).join(''));
  return tariffFromJson({
    tariff: name, currency: { code: 'EUR', minorUnits: 2 }, effectiveFrom: formatInstant(from), localTime: { offset: formatOffset(x.offset), transitions },
    standingChargePerDay: x.standing, tierLimitsWh: limits,
    bands: Array.from({ length: x.nBands }, (_, i) => ({ name: `b${i}`, pricesPerKWh: x.prices.slice(i * 3, i * 3 + limits.length + 1) })),
    schedule: [{ months: ALL, weekday: hours[0], weekend: hours[1], holiday: hours[2] }],
    weekendDays: x.weekendDays, holidays: x.holiday ? ['2026-03-21', '2026-03-23'] : [], ...(x.exportPrice !== undefined ? { exportPricePerKWh: x.exportPrice } : {}),
  });
});

interface Scenario {
  tariffs: Tariff[];
  agreements: Agreement[];
  readings: BillReading[];
  lengthMs: number;
  index: number;
}

/** Readings at random milliseconds over the cycles, registers rising (with a drop if `drops`), the last after every end. */
const scenarioArb = (drops: boolean): fc.Arbitrary<Scenario> => fc.record({
  a: tariffArb('a', EPOCH - 10 * MS_PER_DAY),
  a2: fc.option(tariffArb('a', EPOCH + 5 * MS_PER_HOUR), { nil: undefined }),
  b: fc.option(tariffArb('b', EPOCH - 10 * MS_PER_DAY), { nil: undefined }),
  switchAt: fc.integer({ min: 0, max: 3 * MS_PER_DAY }),
  lengthMs: fc.integer({ min: MS_PER_HOUR, max: 36 * MS_PER_HOUR }),
  index: fc.nat(2),
  points: fc.array(fc.record({ at: fc.integer({ min: -MS_PER_DAY, max: 9 * MS_PER_DAY }), inc: fc.nat(6000), exp: fc.option(fc.nat(900), { nil: undefined }), drop: fc.nat(40) }), { minLength: 1, maxLength: 60 }),
}).map((x) => {
  const end = EPOCH + 2 * x.lengthMs * (x.index + 1);
  const pts = [...x.points].sort((p, q) => p.at - q.at);
  pts.push({ at: end - EPOCH + 1 + (pts.length % 7) * 1000, inc: 10, exp: 1, drop: 1 });
  let imp = 5_000;
  let exp = 100;
  const readings = pts.map((p, i): BillReading => {
    imp = drops && p.drop === 0 ? p.inc : imp + p.inc;
    if (p.exp !== undefined) exp = drops && p.drop === 1 ? 3 : exp + p.exp;
    return { seq: BigInt(i + 1), time: EPOCH + p.at, importWh: imp, ...(p.exp !== undefined ? { exportWh: exp } : {}) };
  });
  const tariffs = [x.a, ...(x.a2 ? [x.a2] : []), ...(x.b ? [x.b] : [])];
  const agreements: Agreement[] = [{ from: 0, tariff: 'a' }, ...(x.b ? [{ from: EPOCH + x.switchAt, tariff: 'b' }] : [])];
  return { tariffs, agreements, readings, lengthMs: x.lengthMs, index: x.index };
});

const input = (s: Scenario, lengthMs: number, index: number, over: Partial<BillInput> = {}): BillInput => ({
  meterId: 'meter-p', period: `cycle-${index}`, cycle: { epoch: EPOCH, lengthMs }, currency: { code: 'EUR', minorUnits: 2 },
  agreements: s.agreements, tariffs: s.tariffs, readings: s.readings, ...over,
});

/** Energy (all tiers), export energy and standing days per version id and band. */
function quantities(b: Bill): { energy: Map<string, bigint>; exported: Map<string, bigint>; days: Map<string, Fraction> } {
  const energy = new Map<string, bigint>();
  const exported = new Map<string, bigint>();
  const days = new Map<string, Fraction>();
  for (const l of b.lines) {
    const id = b.versions[l.version]!.id;
    if (l.kind === 'energy') energy.set(`${id}/${l.band}`, (energy.get(`${id}/${l.band}`) ?? 0n) + BigInt(l.energyWh));
    if (l.kind === 'export') exported.set(id, (exported.get(id) ?? 0n) + BigInt(l.energyWh));
    if (l.kind === 'standing') days.set(id, addFractions(days.get(id) ?? ZERO_FRACTION, l.days));
  }
  return { energy, exported, days };
}

function sumMaps<V>(a: Map<string, V>, b: Map<string, V>, add: (x: V, y: V) => V): Map<string, V> {
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, out.has(k) ? add(out.get(k)!, v) : v);
  return out;
}
const sorted = <V>(m: Map<string, V>): [string, V][] => [...m].sort((x, y) => (x[0] < y[0] ? -1 : 1));

test('splitting a period in two: the halves\' energies (per version and band), export, days and register delta add up to the whole exactly', () => {
  fc.assert(fc.property(scenarioArb(true), (s) => {
    const whole = explainBill(input(s, 2 * s.lengthMs, s.index));
    const first = explainBill(input(s, s.lengthMs, 2 * s.index));
    const second = explainBill(input(s, s.lengthMs, 2 * s.index + 1));
    const w = quantities(whole.bill);
    const h1 = quantities(first.bill);
    const h2 = quantities(second.bill);
    const clean = <V>(m: Map<string, V>, zero: (v: V) => boolean): [string, V][] => sorted(new Map([...m].filter(([, v]) => !zero(v))));
    assert.deepEqual(clean(sumMaps(h1.energy, h2.energy, (x, y) => x + y), (v) => v === 0n), clean(w.energy, (v) => v === 0n));
    assert.deepEqual(clean(sumMaps(h1.exported, h2.exported, (x, y) => x + y), (v) => v === 0n), clean(w.exported, (v) => v === 0n));
    assert.deepEqual(sorted(sumMaps(h1.days, h2.days, addFractions)), sorted(w.days));
    assert.equal(first.registerDeltaWh + second.registerDeltaWh, whole.registerDeltaWh);
  }), { numRuns: 250 });
});

test('the bill does not depend on the order of readings, agreements or tariffs, and is the same every time', () => {
  fc.assert(fc.property(scenarioArb(true), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (s, [k1, k2, k3]) => {
    const shuffle = <T>(xs: readonly T[], k: number): T[] => {
      const a = [...xs];
      for (let i = a.length - 1; i > 0; i--) {
        const j = (k + i * 7919) % (i + 1);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    };
    const base = computeBill(input(s, s.lengthMs, s.index));
    const again = computeBill(input(s, s.lengthMs, s.index));
    const mixed = computeBill(input(s, s.lengthMs, s.index, { readings: shuffle(s.readings, k1!), agreements: shuffle(s.agreements, k2!), tariffs: shuffle(s.tariffs, k3!) }));
    assert.equal(compareBills(again, base), undefined);
    assert.equal(compareBills(mixed, base), undefined);
    assert.equal(toHex(encodeBill(mixed)), toHex(encodeBill(base)));
  }), { numRuns: 200 });
});

/** The register at `t` over all readings (monotone registers only), written separately from the engine. */
function registerAt(rs: readonly BillReading[], t: number): bigint {
  const s = [...rs].sort((a, b) => a.time - b.time || Number(a.seq - b.seq));
  const at = s.filter((r) => r.time === t);
  if (at.length) return BigInt(at[at.length - 1]!.importWh);
  const before = s.filter((r) => r.time < t).pop();
  const after = s.find((r) => r.time > t);
  if (!before) return BigInt(after!.importWh);
  if (!after) return BigInt(before.importWh);
  return BigInt(before.importWh) + (BigInt(after.importWh - before.importWh) * BigInt(t - before.time)) / BigInt(after.time - before.time);
}

test('the band energies sum exactly to the register delta R(end) - R(start) of the period', () => {
  fc.assert(fc.property(scenarioArb(false), (s) => {
    const only = { agreements: [{ from: 0, tariff: 'a' }], tariffs: s.tariffs.filter((t) => t.tariff === 'a') };
    const ex = explainBill(input(s, s.lengthMs, s.index, only));
    const sum = ex.bill.lines.reduce((n, l) => n + (l.kind === 'energy' ? l.energyWh : 0), 0);
    assert.equal(sum, ex.registerDeltaWh);
    assert.equal(BigInt(ex.registerDeltaWh), registerAt(s.readings, ex.bill.period.end) - registerAt(s.readings, ex.bill.period.start));
    assert.equal(ex.pieces.reduce((n, p) => n + p.importWh, 0), sum);
    for (let i = 1; i < ex.pieces.length; i++) assert.equal(ex.pieces[i]!.from, ex.pieces[i - 1]!.to, 'pieces tile the period');
    assert.equal(ex.pieces[0]!.from, ex.bill.period.start);
    assert.equal(ex.pieces[ex.pieces.length - 1]!.to, ex.bill.period.end);
  }), { numRuns: 250 });
});

test('the readings a bill lists recompute the same bill on their own (bill verify, disclosure)', () => {
  fc.assert(fc.property(scenarioArb(true), (s) => {
    const full = computeBill(input(s, s.lengthMs, s.index));
    const used = new Set(full.readings);
    const subset = s.readings.filter((r) => used.has(r.seq));
    assert.equal(compareBills(computeBill(input(s, s.lengthMs, s.index, { readings: subset })), full), undefined);
  }), { numRuns: 200 });
});

test('random tariffs and bills round-trip through their JSON and CBOR forms', () => {
  fc.assert(fc.property(scenarioArb(true), (s) => {
    for (const t of s.tariffs) {
      assert.equal(tariffFromJson(tariffToJson(t)).id, t.id);
      assert.equal(decodeTariff(t.bytes).id, t.id);
    }
    const b = computeBill(input(s, s.lengthMs, s.index));
    assert.equal(compareBills(decodeBill(encodeBill(b)), b), undefined);
    assert.equal(compareBills(billFromJson(JSON.parse(JSON.stringify(billToJson(b)))), b), undefined);
  }), { numRuns: 150 });
});
