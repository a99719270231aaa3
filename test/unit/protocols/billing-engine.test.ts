/**
 * The bill engine's rules (docs/billing.md §5-§9), each with figures worked by hand:
 * interpolation and its rounding, readiness, the first reading, a register that goes
 * down, tiers, switches, the readings needed, the codes and their order, the comparison.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Agreement, type BillInput, ReasonCode, RejectionError, type BillReading, MS_PER_DAY, MS_PER_HOUR, type Tariff,
  assertSameBill, billFromJson, billToJson, compareBills, computeBill, decodeBill, encodeBill, encodeCbor, explainBill,
  formatMinorUnits, splitTiers, tariffFromJson,
} from '../../../protocols/index.js';

const T0 = Date.parse('2026-01-01T00:00:00Z'); // a Thursday
const H = MS_PER_HOUR;
const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/** UTC, 1 EUR/kWh before noon ("am"), 2 EUR/kWh after ("pm"): an amount in cents is Wh/10 or Wh/5. */
function tariff(over: Record<string, unknown> = {}): Tariff {
  return tariffFromJson({
    tariff: 'test', currency: { code: 'EUR', minorUnits: 2 }, effectiveFrom: '2026-01-01T00:00:00Z', localTime: { offset: '+00:00' },
    standingChargePerDay: 0, bands: [{ name: 'am', pricesPerKWh: [1_000_000] }, { name: 'pm', pricesPerKWh: [2_000_000] }],
    schedule: [{ months: ALL, weekday: '000000000000111111111111', weekend: '000000000000111111111111' }], ...over,
  });
}

const r = (seq: number, hours: number, importWh: number, exportWh?: number): BillReading => ({
  seq: BigInt(seq), time: T0 + Math.round(hours * H), importWh, ...(exportWh !== undefined ? { exportWh } : {}),
});

function input(readings: BillReading[], over: Partial<BillInput> = {}): BillInput {
  return {
    meterId: 'meter-1', period: 'cycle-0', cycle: { epoch: T0, lengthMs: MS_PER_DAY }, currency: { code: 'EUR', minorUnits: 2 },
    agreements: [{ from: T0, tariff: 'test' }], tariffs: [tariff()], readings, ...over,
  };
}

const energy = (b: ReturnType<typeof computeBill>): Record<string, number> =>
  Object.fromEntries(b.lines.flatMap((l) => (l.kind === 'energy' ? [[`${l.band}/${l.tier}`, l.energyWh]] : [])));

function refuses(f: () => unknown, code: string, field?: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof RejectionError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}

test('§6.2 interpolation: A0 + floor((A1 - A0)(t - t0) / (t1 - t0)) at a band boundary, energies telescope', () => {
  // 11:40 -> 1000 Wh, 12:20 -> 1007 Wh: at 12:00, 1000 + floor(7 * 20/40) = 1003.
  const b = computeBill(input([r(1, -1, 990), r(2, 11 + 40 / 60, 1000), r(3, 12 + 20 / 60, 1007), r(4, 25, 1020)]));
  // start (00:00): 990 + floor(10 * 1/12.667 h) = 990 + floor(10*60/760) = 990; end (24:00): 1007 + floor(13 * 700/760) = 1018
  assert.deepEqual(energy(b), { 'am/0': 13, 'pm/0': 15 });
  assert.deepEqual(b.lines.map((l) => l.amount), [0, 1, 3], 'standing 0; 13 Wh = 1.3 cents -> 1; 15 Wh at 2 EUR = 3 cents');
  assert.equal(b.total, 4);
  assert.deepEqual(b.readings, [1n, 2n, 3n, 4n]);
});

test('§6.2 the rounding is down, toward the earlier reading: a boundary 1 ms after a reading gets its value', () => {
  const b = explainBill(input([r(1, 0, 0), r(2, 12 - 1 / 3_600_000, 999), r(3, 24, 2000)]));
  // at 12:00 (1 ms after reading 2): 999 + floor(1001 * 1 / 43_200_001) = 999
  assert.deepEqual(energy(b.bill), { 'am/0': 999, 'pm/0': 1001 });
  assert.equal(b.registerDeltaWh, 2000);
});

test('§6.1 readiness: a reading at or after the period end is required (E_BILL_NOT_READY), at the end is enough', () => {
  refuses(() => computeBill(input([r(1, 0, 0), r(2, 24 - 1 / 3_600_000, 10)])), ReasonCode.BILL_NOT_READY, 'readings');
  refuses(() => computeBill(input([])), ReasonCode.BILL_NOT_READY);
  const b = computeBill(input([r(1, 0, 0), r(2, 24, 10)]));
  assert.equal(b.readings.length, 2);
  assert.deepEqual(energy(b), { 'am/0': 5, 'pm/0': 5 });
});

test('§6.2 the first reading anchors: before it the register is its value (no energy), standing charge still due', () => {
  const b = computeBill(input([r(1, 18, 500), r(2, 30, 620)], { tariffs: [tariff({ standingChargePerDay: 1_000_000 })] }));
  // 18:00-24:00: 500 + floor(120 * 6/12) = 560 -> 60 Wh, all pm
  assert.deepEqual(energy(b), { 'pm/0': 60 });
  assert.equal(b.lines[0]!.kind, 'standing');
  assert.equal(b.lines[0]!.amount, 100, 'a whole day at 1 EUR');
});

test('§6.3 a register that goes down: the step contributes 0, is listed, and the new register counts from its first reading', () => {
  const b = explainBill(input([r(1, 0, 50_000), r(2, 6, 50_600), r(3, 8, 40), r(4, 14, 640), r(5, 24, 1640)]));
  // 0-6: 600 (am); 6-8: reset, 0; 8-12: 40 + floor(600*4/6) = 440 -> 400 (am); 12-24: 1640-440 = 1200 (pm)
  assert.deepEqual(energy(b.bill), { 'am/0': 1000, 'pm/0': 1200 });
  assert.deepEqual(b.bill.resets, [{ register: 'import', fromSeq: 2n, toSeq: 3n }]);
  assert.equal(b.registerDeltaWh, 2200);
  assert.deepEqual(b.bill.readings, [1n, 2n, 3n, 4n, 5n], 'both readings of the drop are needed');
});

test('§6.3 a drop far from any boundary is still seen: its two readings are needed, nothing else between', () => {
  const rs = [r(1, 0, 100), r(2, 1, 200), r(3, 2, 300), r(4, 3, 5), r(5, 4, 105), r(6, 5, 205), r(7, 12, 905), r(8, 24, 2105)];
  const b = computeBill(input(rs));
  assert.deepEqual(b.readings, [1n, 3n, 4n, 7n, 8n]);
  assert.deepEqual(energy(b), { 'am/0': 200 + 900, 'pm/0': 1200 });
});

test('§6.3 export register: drops, readings without exportWh, and flat after the last one', () => {
  const t = tariff({ exportPricePerKWh: 1_000_000 });
  const b = computeBill(input([r(1, 0, 0, 100), r(2, 6, 10, 160), r(3, 9, 20), r(4, 12, 30, 7), r(5, 18, 40, 67), r(6, 24, 50)], { tariffs: [t] }));
  // export readings: 100 @0, 160 @6, 7 @12 (drop), 67 @18; after 18 flat: 160-100 + 0 + 60 = 120 Wh, 12 cents
  const exp = b.lines.find((l) => l.kind === 'export')!;
  assert.equal(exp.energyWh, 120);
  assert.equal(exp.amount, -12);
  assert.deepEqual(b.resets, [{ register: 'export', fromSeq: 2n, toSeq: 4n }]);
});

test('§7.2 tiers: splitTiers fills [0, l1), [l1, l2), [l2, ∞) from the counter', () => {
  assert.deepEqual(splitTiers(90n, 30n, [100, 200]), [10n, 20n, 0n]);
  assert.deepEqual(splitTiers(0n, 500n, [100, 200]), [100n, 100n, 300n]);
  assert.deepEqual(splitTiers(250n, 10n, [100, 200]), [0n, 0n, 10n]);
  assert.deepEqual(splitTiers(100n, 0n, [100]), [0n, 0n]);
  assert.deepEqual(splitTiers(5n, 7n, []), [7n]);
});

test('§7.2 tiers fill in time order across bands; the counter runs across versions of one tariff and restarts for another', () => {
  const tiered = (over: Record<string, unknown> = {}): Tariff => tariff({
    tierLimitsWh: [1000], bands: [{ name: 'am', pricesPerKWh: [1_000_000, 3_000_000] }, { name: 'pm', pricesPerKWh: [2_000_000, 4_000_000] }], ...over,
  });
  const rs = [r(1, 0, 0), r(2, 12, 800), r(3, 24, 1600), r(4, 36, 2400), r(5, 48, 3200)];
  const one = computeBill(input(rs, { tariffs: [tiered()] }));
  // am 800 (tier 0), then pm 800: 200 in tier 0, 600 in tier 1
  assert.deepEqual(energy(one), { 'am/0': 800, 'pm/0': 200, 'pm/1': 600 });
  // two days, a second version from day 2: the counter carries on (all tier 1 on day 2)
  const v2 = tiered({ effectiveFrom: '2026-01-02T00:00:00Z', standingChargePerDay: 1 });
  const two = computeBill(input(rs, { tariffs: [tiered(), v2], cycle: { epoch: T0, lengthMs: 2 * MS_PER_DAY } }));
  assert.deepEqual(two.lines.filter((l) => l.kind === 'energy').map((l) => [l.version, l.kind === 'energy' ? `${l.band}/${l.tier}` : '', l.kind === 'energy' ? l.energyWh : 0]),
    [[0, 'am/0', 800], [0, 'pm/0', 200], [0, 'pm/1', 600], [1, 'am/1', 800], [1, 'pm/1', 800]]);
  // switching to another tariff on day 2 starts that tariff's counter at 0
  const other = tiered({ tariff: 'other', effectiveFrom: '2026-01-01T00:00:00Z' });
  const sw = computeBill(input(rs, { tariffs: [tiered(), other], cycle: { epoch: T0, lengthMs: 2 * MS_PER_DAY }, agreements: [{ from: T0, tariff: 'test' }, { from: T0 + MS_PER_DAY, tariff: 'other' }] }));
  assert.deepEqual(sw.lines.filter((l) => l.version === 1 && l.kind === 'energy').map((l) => (l.kind === 'energy' ? `${l.band}/${l.tier}:${l.energyWh}` : '')), ['am/0:800', 'pm/0:200', 'pm/1:600']);
});

test('§5.1 a switch mid-day splits the period and the standing charge by the share of the day', () => {
  const a = tariff({ standingChargePerDay: 2_400_000 });
  const b = tariff({ tariff: 'b', standingChargePerDay: 4_800_000 });
  const ags: Agreement[] = [{ from: T0, tariff: 'test' }, { from: T0 + 6 * H, tariff: 'b' }];
  const bill = computeBill(input([r(1, 0, 0), r(2, 24, 2400)], { tariffs: [a, b], agreements: ags }));
  assert.deepEqual(bill.terms, [{ from: T0, to: T0 + 6 * H, version: 0 }, { from: T0 + 6 * H, to: T0 + 24 * H, version: 1 }]);
  const standing = bill.lines.filter((l) => l.kind === 'standing');
  assert.deepEqual(standing.map((l) => (l.kind === 'standing' ? `${l.days.num}/${l.days.den}` : '')), ['1/4', '3/4']);
  assert.deepEqual(standing.map((l) => l.amount), [60, 360], '2.40 EUR x 1/4, 4.80 EUR x 3/4');
  assert.equal(bill.versions[1]!.tariff, 'b');
});

test('§6.1 readings needed: with a reading on every boundary, exactly one per boundary', () => {
  const rs: BillReading[] = [];
  for (let q = -8; q <= 24 * 4 + 8; q++) rs.push(r(q + 9, q / 4, 1000 + 25 * (q + 8)));
  const b = computeBill(input(rs));
  // boundaries 00:00, 12:00, 24:00
  assert.deepEqual(b.readings, [9n, 57n, 105n]);
  assert.deepEqual(energy(b), { 'am/0': 1200, 'pm/0': 1200 });
});

test('§9 the readings are checked: seq, time, registers, meter', () => {
  refuses(() => computeBill(input([r(1, 0, 0), { ...r(2, 24, 5), seq: 0n }])), ReasonCode.BILL_READINGS_INVALID, 'readings[1].seq');
  refuses(() => computeBill(input([r(1, 0, 0), { ...r(2, 24, 5), seq: 2 as unknown as bigint }])), ReasonCode.BILL_READINGS_INVALID, 'readings[1].seq');
  refuses(() => computeBill(input([r(1, 0, 0), { ...r(2, 24, 5), time: 1.5 }])), ReasonCode.BILL_READINGS_INVALID, 'readings[1].time');
  refuses(() => computeBill(input([r(1, 0, -1), r(2, 24, 5)])), ReasonCode.BILL_READINGS_INVALID, 'readings[0].importWh');
  refuses(() => computeBill(input([r(1, 0, 0, 0.5), r(2, 24, 5)])), ReasonCode.BILL_READINGS_INVALID, 'readings[0].exportWh');
  refuses(() => computeBill(input([r(1, 0, 0), { ...r(2, 24, 5), meterId: 'meter-2' }])), ReasonCode.BILL_READINGS_INVALID, 'readings[1].meterId');
  refuses(() => computeBill(input([r(1, 0, 0), r(1, 24, 5)])), ReasonCode.BILL_READINGS_INVALID, 'readings');
  refuses(() => computeBill(input([r(3, 0, 0), r(2, 24, 5), r(3, 30, 7)])), ReasonCode.BILL_READINGS_INVALID, 'readings');
  refuses(() => computeBill(input([r(1, 0, 0)], { meterId: 'a/b' })), ReasonCode.BILL_READINGS_INVALID, 'meterId');
});

test('§9 codes come in a stated order: readings, agreements and tariffs, period, coverage, currency, readiness', () => {
  const bad = [r(1, 0, 0), r(1, 1, 0)];
  refuses(() => computeBill(input(bad, { period: '2026-13', agreements: [] })), ReasonCode.BILL_READINGS_INVALID);
  refuses(() => computeBill(input([], { period: '2026-13', agreements: [{ from: T0, tariff: 'x' }, { from: T0, tariff: 'y' }] })), ReasonCode.BILL_AGREEMENTS_INVALID);
  refuses(() => computeBill(input([], { tariffs: [tariff(), tariff({ name: 'dup' })] })), ReasonCode.TARIFF_CONFLICT);
  refuses(() => computeBill(input([], { period: '2026-13' })), ReasonCode.BILL_PERIOD_INVALID);
  refuses(() => computeBill(input([], { agreements: [{ from: T0 + 2 * MS_PER_DAY, tariff: 'test' }] })), ReasonCode.BILL_NO_AGREEMENT);
  refuses(() => computeBill(input([], { currency: { code: 'USD', minorUnits: 2 } })), ReasonCode.TARIFF_CURRENCY);
  refuses(() => computeBill(input([], { currency: { code: 'EUR', minorUnits: 3 } })), ReasonCode.TARIFF_CURRENCY);
  refuses(() => computeBill(input([])), ReasonCode.BILL_NOT_READY);
});

test('§5.1 periods: cycle rules and labels', () => {
  refuses(() => computeBill(input([], { cycle: { epoch: T0, lengthMs: 999 } })), ReasonCode.BILL_PERIOD_INVALID, 'cycle.lengthMs');
  refuses(() => computeBill(input([], { period: 'cycle-01' })), ReasonCode.BILL_PERIOD_INVALID);
  refuses(() => computeBill(input([], { period: 'cycle--1' })), ReasonCode.BILL_PERIOD_INVALID);
  refuses(() => computeBill(input([], { period: '2026-3' })), ReasonCode.BILL_PERIOD_INVALID);
  const b = computeBill(input([r(1, 24, 0), r(2, 48, 10)], { period: 'cycle-1' }));
  assert.deepEqual(b.period, { label: 'cycle-1', start: T0 + MS_PER_DAY, end: T0 + 2 * MS_PER_DAY });
  const m = computeBill(input([r(1, 0, 0), r(2, 24 * 31, 10)], { period: '2026-01' }));
  assert.deepEqual([m.period.start, m.period.end], [T0, Date.parse('2026-02-01T00:00:00Z')]);
});

test('§7.3 amounts beyond 2^53-1 minor units are E_BILL_OVERFLOW, not a wrong number', () => {
  const big = tariff({ bands: [{ name: 'am', pricesPerKWh: [1_000_000_000_000] }, { name: 'pm', pricesPerKWh: [1] }] });
  refuses(() => computeBill(input([r(1, 0, 0), r(2, 12, 2 ** 52), r(3, 24, 2 ** 52)], { tariffs: [big] })), ReasonCode.BILL_OVERFLOW);
});

test('§8.3 compareBills names the first difference; assertSameBill refuses with E_BILL_MISMATCH', () => {
  const b = computeBill(input([r(1, 0, 0), r(2, 12, 500), r(3, 24, 1500)], { tariffs: [tariff({ standingChargePerDay: 100_000 })] }));
  assert.equal(compareBills(b, b), undefined);
  const changed = { ...b, lines: b.lines.map((l, i) => (i === 2 ? { ...l, amount: l.amount + 1 } : l)) };
  assert.deepEqual(compareBills(changed, b), { path: 'lines[2].amount', submitted: '201', recomputed: '200' }, '1000 Wh at 2 EUR/kWh is 200 cents');
  assert.deepEqual(compareBills({ ...b, total: 1 }, b), { path: 'total', submitted: '1', recomputed: String(b.total) });
  assert.deepEqual(compareBills({ ...b, lines: b.lines.slice(0, 2) }, b)?.path, 'lines[2]');
  assert.deepEqual(compareBills({ ...b, lines: b.lines.slice(0, 2) }, b)?.submitted, 'absent');
  assert.deepEqual(compareBills({ ...b, readings: [1n, 3n, 4n] }, b), { path: 'readings[1]', submitted: '"3"', recomputed: '"2"' });
  assert.deepEqual(compareBills({ ...b, period: { ...b.period, end: b.period.end + 1 } }, b)?.path, 'period.end');
  assert.throws(() => assertSameBill(changed, b), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.BILL_MISMATCH && e.field === 'lines[2].amount' && /submitted 201, recomputed 200/.test(e.message));
  assert.doesNotThrow(() => assertSameBill(b, b));
});

test('§8 bill JSON and CBOR: round trips, and refusals naming the field', () => {
  const b = computeBill(input([r(1, 0, 0, 0), r(2, 12, 500, 3), r(3, 24, 1500, 9)], { tariffs: [tariff({ standingChargePerDay: 100_000, exportPricePerKWh: 1 })] }));
  const json = billToJson(b);
  assert.equal(compareBills(billFromJson(JSON.parse(JSON.stringify(json))), b), undefined);
  assert.equal(compareBills(decodeBill(encodeBill(b)), b), undefined);
  const bad = (patch: (j: any) => void, field: string): void => {
    const j = JSON.parse(JSON.stringify(json));
    patch(j);
    refuses(() => billFromJson(j), ReasonCode.BILL_INVALID, field);
  };
  bad((j) => { j.total = '5'; }, 'total');
  bad((j) => { j.readings = ['2', '1', '3']; }, 'readings[1]');
  bad((j) => { j.readings[0] = 1; }, 'readings[0]');
  bad((j) => { j.lines[0].days = '2/2'; }, 'lines[0].days');
  bad((j) => { j.lines[1].kind = 'tax'; }, 'lines[1].kind');
  bad((j) => { j.lines[1].version = 3; }, 'lines[1].version');
  bad((j) => { j.versions[0].id = 'AB'; }, 'versions[0].id');
  bad((j) => { j.extra = 1; }, 'extra');
  bad((j) => { delete j.resets; }, 'resets');
  refuses(() => decodeBill(encodeCbor(new Map([[1, 'x']]))), ReasonCode.BILL_INVALID);
  refuses(() => decodeBill(Uint8Array.of(0x1f)), ReasonCode.BILL_INVALID);
});

test('formatMinorUnits shows an amount in its currency\'s decimals', () => {
  assert.equal(formatMinorUnits(1234, 2), '12.34');
  assert.equal(formatMinorUnits(-5, 2), '-0.05');
  assert.equal(formatMinorUnits(0, 2), '0.00');
  assert.equal(formatMinorUnits(1234, 0), '1234');
  assert.equal(formatMinorUnits(7, 3), '0.007');
});
