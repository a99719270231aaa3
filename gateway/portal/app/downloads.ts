/**
 * What the portal's download buttons write (docs/portal.md, "Download"): the account's
 * verified readings and bills as CSV (RFC 4180), and its usage as a Green Button ESPI
 * XML subset (an IntervalBlock per meter of register deltas). Money is formatted from
 * integer minor units with bigint arithmetic, never through a float.
 * Pure: no DOM, unit-tested in Node; the pages pass only data they verified.
 */
import type { Bill, BillLine } from '../../../protocols/billing/bill.js';

/** `amount` minor units as a decimal with `minorUnits` digits after the point: -125n, 2 -> "-1.25". */
export function formatMinor(amount: bigint | number, minorUnits: number): string {
  const a = BigInt(amount);
  const neg = a < 0n;
  const digits = (neg ? -a : a).toString().padStart(minorUnits + 1, '0');
  const whole = minorUnits === 0 ? digits : digits.slice(0, -minorUnits);
  const frac = minorUnits === 0 ? '' : `.${digits.slice(-minorUnits)}`;
  return `${neg ? '-' : ''}${whole.replace(/\B(?=(\d{3})+$)/g, ',')}${frac}`;
}

/** As formatMinor, without thousands separators (for CSV, where a comma would split the field). */
export const plainMinor = (amount: bigint | number, minorUnits: number): string => formatMinor(amount, minorUnits).replace(/,/g, '');

/** One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote or a line break. */
export function csvField(v: string | number | bigint | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csv = (rows: readonly (readonly (string | number | bigint | undefined)[])[]): string => rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';

const iso = (ms: number): string => new Date(ms).toISOString();

/** A verified reading, as the download needs it. */
export interface VerifiedReading {
  readonly meterId: string;
  readonly seq: bigint;
  readonly time: number;
  readonly importWh: number;
  readonly exportWh?: number;
  readonly height: number;
  readonly txHash: string;
}

export const READINGS_CSV_HEADER = ['meter_id', 'seq', 'time_utc', 'import_wh', 'export_wh', 'block_height', 'tx_hash'] as const;

/** One row per reading, by meter then seq. */
export function readingsCsv(readings: readonly VerifiedReading[]): string {
  const rs = [...readings].sort((a, b) => (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return csv([READINGS_CSV_HEADER, ...rs.map((r) => [r.meterId, r.seq, iso(r.time), r.importWh, r.exportWh, r.height, r.txHash])]);
}

/** A bill recomputed and matched in the browser, with its state from the gateway. */
export interface VerifiedBill {
  readonly bill: Bill;
  /** Height of the block holding the bill. */
  readonly height: number;
  /** "due", "paid at height N", "disputed (open)", ... */
  readonly status: string;
}

export const BILLS_CSV_HEADER = ['meter_id', 'period', 'start_utc', 'end_utc', 'currency', 'item', 'band', 'tier', 'energy_wh', 'amount_minor', 'amount', 'bill_height', 'status'] as const;

export function lineLabel(l: BillLine): string {
  return l.kind === 'standing' ? 'standing charge' : l.kind === 'energy' ? 'energy' : 'export credit';
}

/** One row per line item and one "total" row per bill, bills by meter then period start. */
export function billsCsv(bills: readonly VerifiedBill[]): string {
  const bs = [...bills].sort((a, b) => (a.bill.meterId < b.bill.meterId ? -1 : a.bill.meterId > b.bill.meterId ? 1 : a.bill.period.start - b.bill.period.start));
  const rows: (string | number | bigint | undefined)[][] = [[...BILLS_CSV_HEADER]];
  for (const { bill: b, height, status } of bs) {
    const m = b.currency.minorUnits;
    const head = [b.meterId, b.period.label, iso(b.period.start), iso(b.period.end), b.currency.code];
    for (const l of b.lines) {
      rows.push([...head, lineLabel(l), l.kind === 'energy' ? l.band : undefined, l.kind === 'energy' ? l.tier : undefined,
        l.kind === 'standing' ? undefined : l.energyWh, l.amount, plainMinor(l.amount, m), height, status]);
    }
    rows.push([...head, 'total', undefined, undefined, undefined, b.total, plainMinor(b.total, m), height, status]);
  }
  return csv(rows);
}

/** A register delta between two consecutive verified readings. */
export interface Interval {
  /** Seconds since 1970 (UTC). */
  readonly start: number;
  readonly duration: number;
  readonly wh: number;
}

/**
 * The import deltas of one meter's readings, in seq order: one interval per pair of
 * consecutive readings, from the earlier's time to the later's. A register that goes
 * down (a meter replaced, a roll-over; docs/billing.md §6.3) counts 0 for that step.
 * Readings within the same second as the interval's start add to the next interval, so
 * the intervals add up to the register's delta at whole seconds.
 */
export function importIntervals(readings: readonly { seq: bigint; time: number; importWh: number }[]): Interval[] {
  const rs = [...readings].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  const out: Interval[] = [];
  if (rs.length === 0) return out;
  let start = Math.floor(rs[0]!.time / 1000);
  let wh = 0;
  for (let i = 1; i < rs.length; i++) {
    const a = rs[i - 1]!;
    const b = rs[i]!;
    wh += b.importWh >= a.importWh ? b.importWh - a.importWh : 0;
    const end = Math.floor(b.time / 1000);
    if (end <= start) continue;
    out.push({ start, duration: end - start, wh });
    start = end;
    wh = 0;
  }
  return out;
}

const xmlText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Green Button ESPI (NAESB REQ.21) usage as an Atom feed: one ReadingType entry (Wh,
 * delta data, energy delivered) and, per meter, an entry whose IntervalBlock holds an
 * IntervalReading per register delta (timePeriod start and duration in seconds, value in
 * Wh). Only this subset: no UsagePoint, MeterReading or LocalTimeParameters entries.
 */
export function espiXml(opts: { chainId: string; account: string; now: number; meters: readonly { meterId: string; readings: readonly { seq: bigint; time: number; importWh: number }[] }[] }): string {
  const urn = (s: string): string => xmlText(`urn:meterledger:${opts.chainId}:${opts.account}${s}`);
  const updated = iso(opts.now);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">',
    `  <id>${urn('')}</id>`,
    `  <title>${xmlText(`Usage of account ${opts.account} on chain ${opts.chainId}`)}</title>`,
    `  <updated>${updated}</updated>`,
    '  <entry>',
    `    <id>${urn(':reading-type')}</id>`,
    '    <title>Energy delivered, Wh, per interval</title>',
    `    <updated>${updated}</updated>`,
    '    <content>',
    '      <espi:ReadingType>',
    '        <espi:accumulationBehaviour>4</espi:accumulationBehaviour>',
    '        <espi:commodity>1</espi:commodity>',
    '        <espi:flowDirection>1</espi:flowDirection>',
    '        <espi:kind>12</espi:kind>',
    '        <espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>',
    '        <espi:uom>72</espi:uom>',
    '      </espi:ReadingType>',
    '    </content>',
    '  </entry>',
  ];
  for (const m of [...opts.meters].sort((a, b) => (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : 0))) {
    const iv = importIntervals(m.readings);
    const start = iv[0]?.start ?? 0;
    const end = iv.length ? iv.at(-1)!.start + iv.at(-1)!.duration : 0;
    lines.push('  <entry>', `    <id>${urn(`:meter:${m.meterId}:usage`)}</id>`, `    <title>${xmlText(`Meter ${m.meterId}`)}</title>`, `    <updated>${updated}</updated>`,
      '    <content>', '      <espi:IntervalBlock>',
      `        <espi:interval><espi:duration>${end - start}</espi:duration><espi:start>${start}</espi:start></espi:interval>`);
    for (const x of iv) {
      lines.push(`        <espi:IntervalReading><espi:timePeriod><espi:duration>${x.duration}</espi:duration><espi:start>${x.start}</espi:start></espi:timePeriod><espi:value>${x.wh}</espi:value></espi:IntervalReading>`);
    }
    lines.push('      </espi:IntervalBlock>', '    </content>', '  </entry>');
  }
  lines.push('</feed>');
  return lines.join('\n') + '\n';
}
