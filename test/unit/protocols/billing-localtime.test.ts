/**
 * A tariff's own local time (docs/billing.md §4): calendar arithmetic against the
 * JavaScript Date (an independent implementation of the proleptic Gregorian calendar),
 * RFC 3339 parsing, offsets, and the start of a local day where clocks jump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type LocalTimeRules, MS_PER_DAY, MS_PER_HOUR, civilFromDays, dayContaining, daysFromCivil, formatInstant, formatLocalDate,
  formatOffset, isoWeekday, localTimeAt, monthPeriod, offsetAt, parseInstant, parseLocalDate, parseOffset, startOfLocalDay,
} from '../../../protocols/index.js';

const CET: LocalTimeRules = {
  offsetMinutes: 60,
  transitions: [{ at: Date.parse('2026-03-29T01:00:00Z'), offsetMinutes: 120 }, { at: Date.parse('2026-10-25T01:00:00Z'), offsetMinutes: 60 }],
};

test('day numbers: daysFromCivil and civilFromDays agree with Date.UTC from 1970 to 9999 (every 7th day)', () => {
  for (let d = 0; d < daysFromCivil(9999, 12, 31); d += 7) {
    const c = civilFromDays(d);
    assert.equal(Date.UTC(c.year, c.month - 1, c.day), d * MS_PER_DAY);
    assert.equal(daysFromCivil(c.year, c.month, c.day), d);
    assert.equal(isoWeekday(d), ((new Date(d * MS_PER_DAY).getUTCDay() + 6) % 7) + 1);
  }
  assert.deepEqual(civilFromDays(-1), { year: 1969, month: 12, day: 31 }, 'before the epoch too');
  assert.equal(isoWeekday(0), 4, '1970-01-01 was a Thursday');
});

test('RFC 3339 instants: what Date.parse reads, and refusals of what the tariff format does not allow', () => {
  for (const s of ['2026-03-29T01:00:00Z', '2026-01-01T00:00:00+01:00', '2026-01-01T00:00:00.5-05:30', '2024-02-29T23:59:59.999+14:00', '1970-01-01T00:00:00Z']) {
    assert.equal(parseInstant(s), Date.parse(s), s);
  }
  for (const s of ['2026-01-01T00:00:00', '2026-01-01 00:00:00Z', '2026-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:60Z', '2026-01-01T00:00:00.1234Z', '2026-01-01T00:00:00+19:00', '2026-01-01T00:00:00-00:00', '1969-12-31T23:59:59Z',
    '1970-01-01T00:30:00+01:00', '2026-01-01t00:00:00z', '']) {
    assert.equal(parseInstant(s), undefined, s);
  }
  assert.equal(formatInstant(Date.parse('2026-03-29T01:00:00Z')), '2026-03-29T01:00:00Z');
  assert.equal(formatInstant(Date.parse('2026-03-29T01:00:00.007Z')), '2026-03-29T01:00:00.007Z');
  for (let t = 0; t < 4e12; t += 123_456_789_017) assert.equal(formatInstant(t), new Date(t).toISOString().replace('.000Z', 'Z'));
});

test('offsets and local dates: strict forms', () => {
  assert.equal(parseOffset('+05:45'), 345);
  assert.equal(parseOffset('-03:30'), -210);
  assert.equal(parseOffset('+00:00'), 0);
  for (const s of ['-00:00', '+18:01', '+5:45', '+05:60', 'Z', '0100']) assert.equal(parseOffset(s), undefined, s);
  for (const m of [-1080, -210, 0, 345, 1080]) assert.equal(parseOffset(formatOffset(m)), m);
  assert.equal(parseLocalDate('2024-02-29'), daysFromCivil(2024, 2, 29));
  for (const s of ['2026-02-29', '2026-13-01', '1969-12-31', '2026-1-01']) assert.equal(parseLocalDate(s), undefined, s);
  assert.equal(formatLocalDate(daysFromCivil(2026, 3, 29)), '2026-03-29');
});

test('CET/CEST rules: the offset changes exactly at the transition instants', () => {
  const tr = CET.transitions[0]!.at;
  assert.equal(offsetAt(CET, tr - 1), 60);
  assert.equal(offsetAt(CET, tr), 120);
  assert.equal(offsetAt(CET, CET.transitions[1]!.at - 1), 120);
  assert.equal(offsetAt(CET, CET.transitions[1]!.at), 60);
  assert.equal(localTimeAt(CET, tr - 1).hour, 1, '01:59:59.999 +01:00');
  assert.equal(localTimeAt(CET, tr).hour, 3, '03:00 +02:00: the hour 02 does not exist that day');
  const back = CET.transitions[1]!.at;
  assert.equal(localTimeAt(CET, back - 1).hour, 2, '02:59:59.999 +02:00');
  assert.equal(localTimeAt(CET, back).hour, 2, '02:00 +01:00 again');
});

test('start of a local day: midnight in force, 23- and 25-hour days, months under DST', () => {
  const d = (s: string): number => parseLocalDate(s)!;
  assert.equal(startOfLocalDay(CET, d('2026-03-29')), Date.parse('2026-03-28T23:00:00Z'));
  assert.equal(startOfLocalDay(CET, d('2026-03-30')) - startOfLocalDay(CET, d('2026-03-29')), 23 * MS_PER_HOUR);
  assert.equal(startOfLocalDay(CET, d('2026-10-26')) - startOfLocalDay(CET, d('2026-10-25')), 25 * MS_PER_HOUR);
  const march = monthPeriod(CET, '2026-03');
  assert.deepEqual([march.start, march.end], [Date.parse('2026-02-28T23:00:00Z'), Date.parse('2026-03-31T22:00:00Z')]);
});

test('start of a local day where the clock jumps over midnight, and the day an instant counts for', () => {
  // Forward over midnight: 23:30 -> 00:30 at 2026-06-01T23:30 local (+00:00 -> +01:00): the day starts at the jump.
  const fwd: LocalTimeRules = { offsetMinutes: 0, transitions: [{ at: Date.parse('2026-06-01T23:30:00Z'), offsetMinutes: 60 }] };
  assert.equal(startOfLocalDay(fwd, parseLocalDate('2026-06-02')!), Date.parse('2026-06-01T23:30:00Z'));
  // Backward over midnight: 00:30 +01:00 -> 23:30 +00:00 of the day before: the repeated half hour belongs to the later day.
  const back: LocalTimeRules = { offsetMinutes: 60, transitions: [{ at: Date.parse('2026-06-01T23:30:00Z'), offsetMinutes: 0 }] };
  const june2 = startOfLocalDay(back, parseLocalDate('2026-06-02')!);
  assert.equal(june2, Date.parse('2026-06-01T23:00:00Z'), '00:00 +01:00');
  const inRepeat = Date.parse('2026-06-01T23:45:00Z'); // wall clock 23:45 on 1 June again
  assert.equal(formatLocalDate(localTimeAt(back, inRepeat).days), '2026-06-01', 'its wall clock date');
  assert.equal(formatLocalDate(dayContaining(back, inRepeat)), '2026-06-02', 'but it counts for 2 June');
  assert.equal(startOfLocalDay(back, parseLocalDate('2026-06-03')!), Date.parse('2026-06-03T00:00:00Z'));
  // A skipped day (+24 h jump, as Samoa in 2011): it has no instant; its start is the next day's.
  const skip: LocalTimeRules = { offsetMinutes: -600, transitions: [{ at: Date.parse('2026-06-02T10:00:00Z'), offsetMinutes: 840 }] };
  const s2 = startOfLocalDay(skip, parseLocalDate('2026-06-02')!);
  assert.equal(s2, startOfLocalDay(skip, parseLocalDate('2026-06-03')!));
  assert.equal(s2, Date.parse('2026-06-02T10:00:00Z'));
});

test('start of a local day is the earliest instant whose wall clock reads that day or later (brute force, random rules)', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  for (let k = 0; k < 40; k++) {
    const transitions = [];
    let at = Date.parse('2026-05-01T00:00:00Z');
    let prev = rnd(2161) - 1080;
    const base = prev;
    for (let i = 0; i < 4; i++) {
      at += (1 + rnd(72)) * 15 * 60_000;
      let o = rnd(2161) - 1080;
      if (o === prev) o = prev === 0 ? 60 : 0;
      transitions.push({ at, offsetMinutes: o });
      prev = o;
    }
    const rules: LocalTimeRules = { offsetMinutes: base, transitions };
    const wall = (t: number): number => t + offsetAt(rules, t) * 60_000;
    for (let day = parseLocalDate('2026-04-28')!; day < parseLocalDate('2026-05-06')!; day++) {
      const s = startOfLocalDay(rules, day);
      assert.ok(wall(s) >= day * MS_PER_DAY, 'its wall clock has reached the day');
      // nothing earlier (at 15-minute resolution, the grid of the transitions) has
      for (let t = s - 15 * 60_000; t > s - 3 * MS_PER_DAY; t -= 15 * 60_000) assert.ok(wall(t) < day * MS_PER_DAY);
    }
  }
});
