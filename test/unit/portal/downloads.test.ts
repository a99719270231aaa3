/** The portal's downloads: money from minor units without floats, CSV (RFC 4180), the ESPI usage subset. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { billsCsv, csvField, espiXml, formatMinor, importIntervals, plainMinor, readingsCsv } from '../../../gateway/portal/app/downloads.js';
import type { Bill } from '../../../protocols/billing/bill.js';

test('minor units format exactly, for any number of digits and beyond 2^53', () => {
  assert.equal(formatMinor(0n, 2), '0.00');
  assert.equal(formatMinor(5n, 2), '0.05');
  assert.equal(formatMinor(-125n, 2), '-1.25');
  assert.equal(formatMinor(123456789n, 2), '1,234,567.89');
  assert.equal(formatMinor(1500, 0), '1,500');
  assert.equal(formatMinor(1n, 3), '0.001');
  assert.equal(formatMinor(2n ** 64n + 1n, 2), '184,467,440,737,095,516.17');
  assert.equal(plainMinor(-123456789n, 2), '-1234567.89');
});

test('CSV fields are quoted only when they must be', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(12n), '12');
});

test('readings CSV: a header and a row per reading, by meter then seq', () => {
  const t = Date.UTC(2026, 0, 1);
  const text = readingsCsv([
    { meterId: 'm-2', seq: 1n, time: t, importWh: 10, height: 3, txHash: 'aa' },
    { meterId: 'm-1', seq: 2n, time: t + 900_000, importWh: 120, exportWh: 5, height: 4, txHash: 'bb' },
    { meterId: 'm-1', seq: 1n, time: t, importWh: 100, height: 3, txHash: 'cc' },
  ]);
  assert.equal(text, [
    'meter_id,seq,time_utc,import_wh,export_wh,block_height,tx_hash',
    'm-1,1,2026-01-01T00:00:00.000Z,100,,3,cc',
    'm-1,2,2026-01-01T00:15:00.000Z,120,5,4,bb',
    'm-2,1,2026-01-01T00:00:00.000Z,10,,3,aa',
    '',
  ].join('\r\n'));
});

const bill = (meterId: string, label: string, start: number): Bill => ({
  meterId, period: { label, start, end: start + 86_400_000 }, currency: { code: 'EUR', minorUnits: 2 },
  versions: [{ tariff: 'tou', id: '00'.repeat(32) }], terms: [{ from: start, to: start + 86_400_000, version: 0 }], readings: [1n, 2n],
  lines: [
    { kind: 'standing', version: 0, days: { num: 1n, den: 1n }, pricePerDay: 250_000, amount: 25 },
    { kind: 'energy', version: 0, band: 'night', tier: 0, energyWh: 4000, pricePerKWh: 150_000, amount: 60 },
    { kind: 'export', version: 0, energyWh: 1000, pricePerKWh: 50_000, amount: -5 },
  ],
  total: 80, resets: [],
});

test('bills CSV: a row per line item and a total row, amounts in minor units and formatted', () => {
  const t = Date.UTC(2026, 0, 1);
  const text = billsCsv([{ bill: bill('m-1', 'cycle-2', t + 86_400_000), height: 9, status: 'due' }, { bill: bill('m-1', 'cycle-1', t), height: 5, status: 'paid at height 7' }]);
  const rows = text.trimEnd().split('\r\n');
  assert.equal(rows[0], 'meter_id,period,start_utc,end_utc,currency,item,band,tier,energy_wh,amount_minor,amount,bill_height,status');
  assert.equal(rows.length, 1 + 2 * 4);
  assert.equal(rows[1], 'm-1,cycle-1,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z,EUR,standing charge,,,,25,0.25,5,paid at height 7');
  assert.equal(rows[2], 'm-1,cycle-1,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z,EUR,energy,night,0,4000,60,0.60,5,paid at height 7');
  assert.equal(rows[3], 'm-1,cycle-1,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z,EUR,export credit,,,1000,-5,-0.05,5,paid at height 7');
  assert.equal(rows[4], 'm-1,cycle-1,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z,EUR,total,,,,80,0.80,5,paid at height 7');
  assert.match(rows[5]!, /^m-1,cycle-2,.*,due$/);
});

test('usage intervals are register deltas between consecutive readings; a register that goes down counts 0', () => {
  const t = Date.UTC(2026, 0, 1);
  const iv = importIntervals([
    { seq: 3n, time: t + 1_800_000, importWh: 5 }, // replaced meter: register starts again
    { seq: 1n, time: t, importWh: 10_000 },
    { seq: 2n, time: t + 900_000, importWh: 10_400 },
    { seq: 4n, time: t + 2_700_000, importWh: 65 },
  ]);
  assert.deepEqual(iv, [
    { start: t / 1000, duration: 900, wh: 400 },
    { start: t / 1000 + 900, duration: 900, wh: 0 },
    { start: t / 1000 + 1800, duration: 900, wh: 60 },
  ]);
  assert.ok(iv.every((x) => x.wh < 10_000), 'never a cumulative value');
  // Readings in the same second add to the next interval: nothing is lost at whole seconds.
  const close = importIntervals([{ seq: 1n, time: t, importWh: 0 }, { seq: 2n, time: t + 400, importWh: 4 }, { seq: 3n, time: t + 800, importWh: 8 }, { seq: 4n, time: t + 1200, importWh: 12 }]);
  assert.deepEqual(close, [{ start: t / 1000, duration: 1, wh: 12 }]);
});

test('ESPI XML: a ReadingType in Wh and an IntervalBlock per meter with an IntervalReading per delta', () => {
  const t = Date.UTC(2026, 0, 1);
  const xml = espiXml({
    chainId: 'dev-1', account: 'owner-0001', now: t,
    meters: [
      { meterId: 'meter-b', readings: [{ seq: 1n, time: t, importWh: 0 }, { seq: 2n, time: t + 60_000, importWh: 7 }] },
      { meterId: 'meter-a', readings: [{ seq: 1n, time: t, importWh: 100 }, { seq: 2n, time: t + 900_000, importWh: 150 }, { seq: 3n, time: t + 1_800_000, importWh: 175 }] },
    ],
  });
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<feed xmlns="http:\/\/www.w3.org\/2005\/Atom" xmlns:espi="http:\/\/naesb.org\/espi">/);
  assert.match(xml, /<espi:uom>72<\/espi:uom>/);
  const blocks = [...xml.matchAll(/<espi:IntervalBlock>([\s\S]*?)<\/espi:IntervalBlock>/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 2);
  assert.ok(xml.indexOf('meter:meter-a:usage') < xml.indexOf('meter:meter-b:usage'), 'meters in id order');
  const values = (b: string): number[] => [...b.matchAll(/<espi:value>(\d+)<\/espi:value>/g)].map((m) => Number(m[1]));
  assert.deepEqual(values(blocks[0]!), [50, 25]);
  assert.deepEqual(values(blocks[1]!), [7]);
  assert.match(blocks[0]!, new RegExp(`<espi:interval><espi:duration>1800</espi:duration><espi:start>${t / 1000}</espi:start></espi:interval>`));
  assert.match(blocks[0]!, new RegExp(`<espi:timePeriod><espi:duration>900</espi:duration><espi:start>${t / 1000 + 900}</espi:start></espi:timePeriod><espi:value>25</espi:value>`));
  assert.ok(!/&(?!amp;|lt;|gt;|quot;)/.test(xml));
  assert.match(espiXml({ chainId: 'c', account: 'a<b', now: t, meters: [] }), /a&lt;b/);
});
