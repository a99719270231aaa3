/**
 * Tariffs (docs/billing.md §3): the JSON form's defaults and normalisation, the canonical
 * CBOR and its id, and refusals of anything else. The vector file lists more refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ReasonCode, RejectionError, TariffLabel, decodeCanonicalCbor, decodeTariff, encodeCbor, sha256, tariffFromJson, tariffId,
  tariffToJson, toHex,
} from '../../../protocols/index.js';

const minimal = {
  tariff: 'flat', currency: { code: 'EUR', minorUnits: 2 }, effectiveFrom: '2026-01-01T00:00:00Z', localTime: { offset: '+00:00' },
  standingChargePerDay: 0, bands: [{ name: 'all', pricesPerKWh: [250_000] }],
  schedule: [{ months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], weekday: '0'.repeat(24), weekend: '0'.repeat(24) }],
};

test('a minimal tariff: defaults filled (weekend Saturday and Sunday, holiday hours = weekend, no tiers, no holidays, no export)', () => {
  const t = tariffFromJson(minimal);
  assert.deepEqual(t.weekendDays, [6, 7]);
  assert.equal(t.schedule[0]!.holiday, '0'.repeat(24));
  assert.deepEqual(t.tierLimitsWh, []);
  assert.deepEqual(t.holidays, []);
  assert.equal(t.exportPricePerKWh, undefined);
  assert.equal(t.name, undefined);
  assert.equal(t.id, toHex(sha256(t.bytes)), 'the id is SHA-256 of the canonical CBOR');
  assert.equal(tariffId(t), t.id);
  const m = decodeCanonicalCbor(t.bytes) as Map<number, unknown>;
  assert.deepEqual([...m.keys()].sort((a, b) => a - b), [1, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'absent name (2) and export price (12) are not encoded');
});

test('the JSON form is normalised: order of seasons, months, holidays and weekend days does not change the id', () => {
  const a = tariffFromJson({
    ...minimal, weekendDays: [7, 6], holidays: ['2026-12-25', '2026-01-01'],
    bands: [{ name: 'low', pricesPerKWh: [1] }, { name: 'high', pricesPerKWh: [2] }],
    schedule: [{ months: [12, 1, 2], weekday: '1'.repeat(24), weekend: '0'.repeat(24) }, { months: [9, 3, 4, 5, 6, 7, 8, 10, 11], weekday: '0'.repeat(24), weekend: '0'.repeat(24) }],
  });
  const b = tariffFromJson({
    ...minimal, weekendDays: [6, 7], holidays: ['2026-01-01', '2026-12-25'],
    bands: [{ name: 'low', pricesPerKWh: [1] }, { name: 'high', pricesPerKWh: [2] }],
    schedule: [{ months: [3, 4, 5, 6, 7, 8, 9, 10, 11], weekday: '0'.repeat(24), weekend: '0'.repeat(24) }, { months: [1, 2, 12], weekday: '1'.repeat(24), weekend: '0'.repeat(24) }],
  });
  assert.equal(a.id, b.id);
  assert.deepEqual(a.schedule.map((s) => s.months[0]), [1, 3]);
  // but the order of bands is meaningful (the schedule names them by index)
  const swapped = tariffFromJson({ ...minimal, bands: [{ name: 'high', pricesPerKWh: [2] }, { name: 'low', pricesPerKWh: [1] }], schedule: b.schedule.map((s) => ({ ...s })) });
  assert.notEqual(swapped.id, b.id);
});

test('the same instant written with different offsets is the same tariff', () => {
  assert.equal(tariffFromJson({ ...minimal, effectiveFrom: '2026-01-01T01:00:00+01:00' }).id, tariffFromJson(minimal).id);
  assert.equal(tariffFromJson({ ...minimal, effectiveFrom: '2025-12-31T19:00:00.000-05:00' }).id, tariffFromJson(minimal).id);
});

test('canonical JSON round trip: tariffToJson then tariffFromJson is the same version', () => {
  const t = tariffFromJson({ ...minimal, name: 'x', exportPricePerKWh: 1, tierLimitsWh: [10], bands: [{ name: 'all', pricesPerKWh: [3, 2] }], holidays: ['2026-05-01'] });
  assert.equal(tariffFromJson(tariffToJson(t)).id, t.id);
  assert.equal(decodeTariff(t.bytes).id, t.id);
});

test('errors name the field and carry E_TARIFF_INVALID; the message says what is expected', () => {
  const cases: [unknown, string, RegExp][] = [
    [null, '', /must be a JSON object/],
    [[], '', /must be a JSON object/],
    [{ ...minimal, currency: { code: 'EUR', minorUnits: 2, symbol: '€' } }, 'currency.symbol', /not a field/],
    [{ ...minimal, localTime: { offset: '+01:00', zone: 'Europe/Paris' } }, 'localTime.zone', /not a field/],
    [{ ...minimal, localTime: { offset: '+01:00', transitions: [{ at: '2026-03-29T01:00:00Z', offset: '+02:00', note: 'x' }] } }, 'localTime.transitions[0].note', /not a field/],
    [{ ...minimal, bands: [{ name: 'all', pricesPerKWh: [1], color: 'red' }] }, 'bands[0].color', /not a field/],
    [{ ...minimal, schedule: [{ ...minimal.schedule[0], sunday: '0'.repeat(24) }] }, 'schedule[0].sunday', /not a field/],
    [{ ...minimal, name: '' }, 'name', /1\.\.128/],
    [{ ...minimal, localTime: undefined }, 'localTime', /required/],
    [{ ...minimal, localTime: '+01:00' }, 'localTime', /must be an object/],
    [{ ...minimal, effectiveFrom: undefined }, 'effectiveFrom', /required/],
    [{ ...minimal, bands: [{ name: 'all', pricesPerKWh: [1] }], schedule: [{ ...minimal.schedule[0], weekday: '0'.repeat(23) + '1' }] }, 'schedule[0].weekday', /hour 23 names band 1, but there are 1 bands/],
    [{ ...minimal, standingChargePerDay: 2 ** 53 }, 'standingChargePerDay', /0 to 1000000000000/],
    [{ ...minimal, holidays: '2026-01-01' }, 'holidays', /array/],
  ];
  for (const [doc, field, msg] of cases) {
    assert.throws(() => tariffFromJson(doc), (e: unknown) => {
      assert.ok(e instanceof RejectionError);
      assert.equal(e.code, ReasonCode.TARIFF_INVALID);
      assert.equal(e.field, field || undefined, String(field));
      assert.match(e.message, msg);
      assert.ok(e.message.startsWith(`tariff${field ? `.${field}` : ''}: `), e.message);
      return true;
    });
  }
});

test('decodeTariff refuses what is not exactly the canonical encoding', () => {
  const t = tariffFromJson(minimal);
  const m = decodeCanonicalCbor(t.bytes) as Map<number, unknown>;
  const withName = new Map(m).set(TariffLabel.name, 'x');
  assert.equal(decodeTariff(encodeCbor(withName)).name, 'x', 'a well-formed variant decodes');
  const missing = new Map(m);
  missing.delete(TariffLabel.holidays);
  assert.throws(() => decodeTariff(encodeCbor(missing)), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.TARIFF_INVALID && e.field === 'holidays');
  const textKey = new Map<unknown, unknown>(m).set('tariff', 'x');
  assert.throws(() => decodeTariff(encodeCbor(textKey)), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.TARIFF_INVALID);
  const noHoliday = new Map(m).set(TariffLabel.schedule, [[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], '0'.repeat(24), '0'.repeat(24)]]);
  assert.throws(() => decodeTariff(encodeCbor(noHoliday)), (e: unknown) => e instanceof RejectionError && e.field === 'schedule[0]', 'CBOR has no defaults: four entries per season');
  assert.throws(() => decodeTariff(encodeCbor([1, 2])), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.TARIFF_INVALID);
  assert.throws(() => decodeTariff(Uint8Array.of(0xff)), (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.TARIFF_MALFORMED);
});
