/**
 * test/vectors/billing.json is what docs/billing.md says: every tariff, refusal, rounding,
 * local-time and bill vector checked against protocols/billing, and every bill marked
 * `naive` checked against an independent minute-by-minute computation (billing-naive.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BillInput, RejectionError, type BillReading, billFromJson, billToJson, compareBills, computeBill, dayTypeOf, decodeBill,
  decodeTariff, encodeBill, explainBill, fromHex, localTimeAt, formatLocalDate, monthPeriod, parseLocalDate, roundHalfEven,
  startOfLocalDay, tariffFromJson, tariffToJson, toHex, type Tariff,
} from '../../protocols/index.js';
import { readVector } from './generate.js';
import { patchTariff } from './billing.js';
import type { BillingCaseVector, BillingFile } from './types.js';
import { naiveBill } from '../helpers/billing-naive.js';

const v = readVector<BillingFile>('billing.json');
const byKey = new Map(v.tariffs.map((t) => [t.key, t]));
const tariffById = new Map<string, Tariff>(v.tariffs.map((t) => [t.id, decodeTariff(fromHex(t.cbor))]));

function inputOf(c: BillingCaseVector, readings?: BillReading[]): BillInput {
  const i = c.input;
  return {
    meterId: i.meterId, period: i.period, currency: i.currency, ...(i.cycle ? { cycle: i.cycle } : {}),
    agreements: i.agreements, tariffs: i.tariffs.map((id) => tariffById.get(id)!),
    readings: readings ?? i.readings.map((r) => ({ seq: BigInt(r.seq), time: r.time, importWh: r.importWh, ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}) })),
  };
}

test('billing vectors cover every case docs/billing.md §11 lists', () => {
  const names = v.bills.map((b) => b.name).join('\n');
  for (const want of [/^flat tariff/m, /night band crossing midnight/, /DST spring forward/, /DST fall back/, /^tiers/m, /^export credit/m,
    /^tariff switch mid-period/m, /^missing reading/m, /^register goes backwards/m, /rounds to 0 \(even\)/, /rounds to 2 \(even\)/, /rounds to 4 \(even\)/, /credit, -2/]) {
    assert.match(names, want);
  }
  const errors = new Set(v.bills.flatMap((b) => (b.error ? [b.error.code] : [])));
  for (const code of ['E_BILL_NOT_READY', 'E_BILL_NO_AGREEMENT', 'E_BILL_NO_TARIFF', 'E_TARIFF_CURRENCY', 'E_TARIFF_CONFLICT', 'E_BILL_READINGS_INVALID', 'E_BILL_AGREEMENTS_INVALID', 'E_BILL_PERIOD_INVALID', 'E_BILL_OVERFLOW']) {
    assert.ok(errors.has(code), code);
  }
  assert.ok(v.bills.some((b) => b.bill?.resets.length), 'a reset is listed');
  assert.ok(v.bills.filter((b) => b.naive).length >= 15, 'most bills are also checked the naive way');
});

test('tariff vectors: JSON -> canonical CBOR -> SHA-256 id, and back (docs/billing.md §3)', () => {
  for (const t of v.tariffs) {
    const fromJson = tariffFromJson(t.json);
    assert.equal(toHex(fromJson.bytes), t.cbor, t.key);
    assert.equal(fromJson.id, t.id, t.key);
    assert.deepEqual(tariffToJson(fromJson), t.canonicalJson, t.key);
    assert.equal(tariffFromJson(t.canonicalJson).id, t.id, `${t.key}: the canonical JSON has the same id`);
    const decoded = decodeTariff(fromHex(t.cbor));
    assert.equal(decoded.id, t.id, t.key);
    assert.deepEqual(tariffToJson(decoded), t.canonicalJson, t.key);
  }
  assert.notEqual(byKey.get('tou')!.id, byKey.get('tou2')!.id, 'two versions of one tariff have different ids');
});

test('refused tariffs: each JSON refusal has its code and names the field', () => {
  assert.ok(v.invalidTariffs.length >= 25);
  for (const c of v.invalidTariffs) {
    assert.throws(() => tariffFromJson(patchTariff(byKey.get('tou')!.json, c.set, c.remove)), (e: unknown) => {
      assert.ok(e instanceof RejectionError, c.name);
      assert.equal(e.code, c.code, c.name);
      assert.equal(e.field, c.field, c.name);
      assert.ok(e.message.startsWith(`tariff.${c.field}: `), `${c.name}: the message names the field (${e.message})`);
      return true;
    }, c.name);
  }
  for (const c of v.invalidTariffCbor) {
    assert.throws(() => decodeTariff(fromHex(c.cbor)), (e: unknown) => e instanceof RejectionError && e.code === c.code && (c.field === undefined || e.field === c.field), c.name);
  }
});

test('round half to even (IEEE 754 roundTiesToEven) on exact integers', () => {
  for (const r of v.roundHalfEven) assert.equal(roundHalfEven(BigInt(r.num), BigInt(r.den)).toString(), r.halfEven, `${r.num}/${r.den}`);
  // and against a different formulation: 2x rounded half-up, ties then pulled to even
  for (let n = -60n; n <= 60n; n++) {
    for (const d of [1n, 2n, 3n, 4n, 10n]) {
      const floor = n >= 0n ? n / d : -((-n + d - 1n) / d);
      const frac2 = 2n * (n - floor * d);
      const want = frac2 < d ? floor : frac2 > d ? floor + 1n : floor % 2n === 0n ? floor : floor + 1n;
      assert.equal(roundHalfEven(n, d), want, `${n}/${d}`);
    }
  }
});

test('local time vectors: offset, local date, hour, weekday and day type of instants', () => {
  for (const r of v.localTime) {
    const t = tariffById.get(byKey.get(r.tariff)!.id)!;
    const lt = localTimeAt(t.localTime, r.instant);
    assert.equal(lt.offsetMinutes, r.offsetMinutes, r.instantText);
    assert.equal(formatLocalDate(lt.days), r.localDate, r.instantText);
    assert.equal(lt.hour, r.hour, r.instantText);
    assert.equal(lt.weekday, r.weekday, r.instantText);
    assert.equal(dayTypeOf(t, lt.days, lt.weekday), r.dayType, r.instantText);
    // independently: the wall clock is the instant shifted by the offset, read as UTC
    const w = new Date(r.instant + r.offsetMinutes * 60_000);
    assert.equal(w.toISOString().slice(0, 10), r.localDate);
    assert.equal(w.getUTCHours(), r.hour);
  }
  for (const r of v.dayStarts) {
    const t = tariffById.get(byKey.get(r.tariff)!.id)!;
    if ('localDate' in r) assert.equal(startOfLocalDay(t.localTime, parseLocalDate(r.localDate)!), r.start, r.localDate);
    else {
      const p = monthPeriod(t.localTime, r.month);
      assert.deepEqual([p.start, p.end], [r.start, r.end], r.month);
    }
  }
});

test('bill vectors: the engine computes each listed bill, byte for byte, or refuses it with the listed code', () => {
  for (const c of v.bills) {
    if (c.error) {
      assert.throws(() => computeBill(inputOf(c)), (e: unknown) => e instanceof RejectionError && e.code === c.error!.code && (c.error!.field === undefined || e.field === c.error!.field), c.name);
      continue;
    }
    const ex = explainBill(inputOf(c));
    assert.deepEqual(billToJson(ex.bill), c.bill, c.name);
    assert.equal(toHex(encodeBill(ex.bill)), c.billCbor, c.name);
    assert.equal(ex.registerDeltaWh, c.registerDeltaWh, c.name);
    assert.deepEqual(ex.pieces.map((p) => ({ ...p })), c.pieces, c.name);
    // both forms decode to the same bill
    assert.equal(compareBills(decodeBill(fromHex(c.billCbor!)), ex.bill), undefined, c.name);
    assert.equal(compareBills(billFromJson(c.bill), ex.bill), undefined, c.name);
    // the total is the sum of the lines; the energy lines add up to the pieces
    assert.equal(c.bill!.total, c.bill!.lines.reduce((s, l) => s + l.amount, 0), c.name);
    const energy = c.bill!.lines.reduce((s, l) => s + (l.kind === 'energy' ? l.energyWh : 0), 0);
    assert.equal(energy, c.pieces!.reduce((s, p) => s + p.importWh, 0), c.name);
  }
});

test('bill vectors: the readings a bill lists are enough to recompute it (what bill verify and disclosure rely on)', () => {
  for (const c of v.bills) {
    if (!c.bill) continue;
    const used = new Set(c.bill.readings);
    const subset = inputOf(c).readings.filter((r) => used.has(r.seq.toString()));
    assert.equal(subset.length, used.size, c.name);
    assert.equal(compareBills(computeBill(inputOf(c, subset)), computeBill(inputOf(c))), undefined, c.name);
  }
});

test('bill vectors: an independent minute-by-minute computation gives the same lines, total, period and readings', () => {
  const json = new Map(v.tariffs.map((t) => [t.id, t.canonicalJson]));
  let checked = 0;
  for (const c of v.bills) {
    if (!c.naive) continue;
    const n = naiveBill(c, json);
    const b = c.bill!;
    assert.deepEqual([n.start, n.end], [b.period.start, b.period.end], `${c.name}: period`);
    const want = new Map<string, { energyWh?: number; days?: string; amount: number }>();
    for (const l of b.lines) {
      const id = b.versions[l.version]!.id;
      if (l.kind === 'standing') want.set(`standing/${id}`, { days: l.days, amount: l.amount });
      else if (l.kind === 'energy') want.set(`energy/${id}/${l.band}/${l.tier}`, { energyWh: l.energyWh, amount: l.amount });
      else want.set(`export/${id}`, { energyWh: l.energyWh, amount: l.amount });
    }
    assert.deepEqual([...n.lines.keys()].sort(), [...want.keys()].sort(), `${c.name}: the same lines`);
    for (const [k, l] of n.lines) {
      const w = want.get(k)!;
      if (l.energyWh !== undefined) assert.equal(Number(l.energyWh), w.energyWh, `${c.name}: ${k} energy`);
      if (l.days !== undefined) assert.equal(l.days, w.days, `${c.name}: ${k} days`);
      assert.equal(Number(l.amount), w.amount, `${c.name}: ${k} amount`);
    }
    assert.equal(Number(n.total), b.total, `${c.name}: total`);
    assert.deepEqual(n.used, b.readings, `${c.name}: readings used`);
    checked++;
  }
  assert.ok(checked >= 15);
});
