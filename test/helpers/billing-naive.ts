/**
 * A deliberately naive second bill computation, written from docs/billing.md and not from
 * protocols/billing: it walks the period minute by minute, reads local time with the
 * JavaScript Date of (instant + offset), interpolates over all readings, and adds every
 * minute's energy, day share and money by itself. It handles what the vectors marked
 * `naive` hold: registers that never go down, every instant a whole minute.
 */
import type { BillingCaseVector, BillingReadingJson } from '../vectors/types.js';

const MIN = 60_000;

interface NaiveTariff {
  id: string;
  tariff: string;
  effectiveFrom: number;
  baseOffset: number;
  transitions: { at: number; offset: number }[];
  standingChargePerDay: number;
  bands: { name: string; pricesPerKWh: number[] }[];
  tierLimitsWh: number[];
  schedule: { months: number[]; weekday: string; weekend: string; holiday: string }[];
  weekendDays: number[];
  holidays: string[];
  exportPricePerKWh?: number;
}

const offsetMinutes = (s: string): number => {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(s)!;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
};

/** From the canonical JSON form of a tariff (docs/billing.md §3.2). */
export function naiveTariff(id: string, j: Record<string, any>): NaiveTariff {
  return {
    id, tariff: j.tariff, effectiveFrom: Date.parse(j.effectiveFrom), baseOffset: offsetMinutes(j.localTime.offset),
    transitions: j.localTime.transitions.map((x: any) => ({ at: Date.parse(x.at), offset: offsetMinutes(x.offset) })),
    standingChargePerDay: j.standingChargePerDay, bands: j.bands, tierLimitsWh: j.tierLimitsWh, schedule: j.schedule,
    weekendDays: j.weekendDays, holidays: j.holidays, ...(j.exportPricePerKWh !== undefined ? { exportPricePerKWh: j.exportPricePerKWh } : {}),
  };
}

function offsetAt(t: NaiveTariff, at: number): number {
  let o = t.baseOffset;
  for (const x of t.transitions) if (x.at <= at) o = x.offset;
  return o;
}

/** Local wall clock of an instant as a Date read in UTC. */
const wall = (t: NaiveTariff, at: number): Date => new Date(at + offsetAt(t, at) * MIN);
const dateText = (d: Date): string => d.toISOString().slice(0, 10);

function bandOf(t: NaiveTariff, at: number): number {
  const w = wall(t, at);
  const season = t.schedule.find((s) => s.months.includes(w.getUTCMonth() + 1))!;
  const isoDay = w.getUTCDay() === 0 ? 7 : w.getUTCDay();
  const hours = t.holidays.includes(dateText(w)) ? season.holiday : t.weekendDays.includes(isoDay) ? season.weekend : season.weekday;
  return parseInt(hours[w.getUTCHours()]!, 36);
}

/** The register at `at` by the rule of §6.2, over every reading that carries it. */
function register(rs: { time: number; seq: bigint; v: number }[], at: number): bigint {
  let last = -1;
  for (let i = 0; i < rs.length; i++) if (rs[i]!.time <= at) last = i;
  if (last >= 0 && rs[last]!.time === at) return BigInt(rs[last]!.v);
  if (last < 0) return BigInt(rs[0]!.v);
  if (last === rs.length - 1) return BigInt(rs[last]!.v);
  const a = rs[last]!;
  const b = rs[last + 1]!;
  const num = BigInt(b.v - a.v) * BigInt(at - a.time);
  return BigInt(a.v) + num / BigInt(b.time - a.time); // non-negative: truncation is floor
}

function halfEven(num: bigint, den: bigint): bigint {
  const neg = num < 0n;
  const n = neg ? -num : num;
  let q = n / den;
  const r2 = (n % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

function gcd(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcd(b, a % b);
}

export interface NaiveLine { key: string; energyWh?: bigint; days?: string; amount: bigint }

export interface NaiveBill {
  start: number;
  end: number;
  lines: Map<string, NaiveLine>;
  total: bigint;
  used: string[];
  energyByPiece: bigint;
}

/** The bill of a vector case, minute by minute. */
export function naiveBill(c: BillingCaseVector, tariffJson: Map<string, Record<string, unknown>>): NaiveBill {
  const inp = c.input;
  const versions = inp.tariffs.map((id) => naiveTariff(id, tariffJson.get(id)!));
  const minor = BigInt(inp.currency.minorUnits);
  const reads = inp.readings.map((r: BillingReadingJson) => ({ ...r, seq: BigInt(r.seq) }))
    .sort((a, b) => a.time - b.time || (a.seq < b.seq ? -1 : 1));
  const imp = reads.map((r) => ({ time: r.time, seq: r.seq, v: r.importWh }));
  const exp = reads.filter((r) => r.exportWh !== undefined).map((r) => ({ time: r.time, seq: r.seq, v: r.exportWh! }));

  const versionAt = (at: number): NaiveTariff | undefined => {
    let ag: { from: number; tariff: string | null } | undefined;
    for (const a of inp.agreements) if (a.from <= at && (!ag || a.from > ag.from)) ag = a;
    if (!ag || ag.tariff === null) return undefined;
    let v: NaiveTariff | undefined;
    for (const x of versions) if (x.tariff === ag.tariff && x.effectiveFrom <= at && (!v || x.effectiveFrom > v.effectiveFrom)) v = x;
    return v;
  };

  // The period: a cycle, or a month whose ends are found by walking minutes to local midnight.
  let start: number;
  let end: number;
  const cyc = /^cycle-(\d+)$/.exec(inp.period);
  if (cyc) {
    start = inp.cycle!.epoch + Number(cyc[1]) * inp.cycle!.lengthMs;
    end = start + inp.cycle!.lengthMs;
  } else {
    const [y, m] = inp.period.split('-').map(Number) as [number, number];
    const boundary = (yy: number, mm: number): number => {
      const anchor = Date.UTC(yy, mm - 1, 1);
      // in force at the anchor, else the first in force after it, else the last before it (§5.1)
      const changes = [...new Set([...inp.agreements.map((a) => a.from), ...versions.map((x) => x.effectiveFrom)])].sort((a, b) => a - b);
      let cal = versionAt(anchor);
      for (const c of changes) if (!cal && c > anchor) cal = versionAt(c);
      for (const c of [...changes].reverse()) if (!cal && c <= anchor) cal = versionAt(c - 1) ?? versionAt(c);
      const target = `${String(yy).padStart(4, '0')}-${String(mm).padStart(2, '0')}-01`;
      let t = anchor - 18 * 3_600_000;
      while (dateText(wall(cal!, t)) < target) t += MIN;
      return t;
    };
    start = boundary(y, m);
    end = m === 12 ? boundary(y + 1, 1) : boundary(y, m + 1);
  }

  // Minutes per local date, for each version's calendar (§5.4): one walk per version.
  const dayLen = new Map<string, Map<string, number>>();
  const lenOf = (v: NaiveTariff, day: string): number => {
    let m = dayLen.get(v.id);
    if (!m) {
      m = new Map();
      for (let t = start - 3 * 86_400_000; t < end + 3 * 86_400_000; t += MIN) {
        const d = dateText(wall(v, t));
        m.set(d, (m.get(d) ?? 0) + 1);
      }
      dayLen.set(v.id, m);
    }
    return m.get(day)!;
  };

  const lines = new Map<string, NaiveLine>();
  const days = new Map<string, { num: bigint; den: bigint }>();
  const counters = new Map<string, bigint>();
  const importAt = new Set<number>([start, end]);
  const exportAt = new Set<number>();
  let prevKey: string | undefined;
  let prevExport: string | undefined;
  let energyByPiece = 0n;
  for (let t = start; t < end; t += MIN) {
    const v = versionAt(t);
    const band = v ? bandOf(v, t) : -1;
    const key = v ? `${v.id}/${band}` : 'none';
    if (prevKey !== undefined && key !== prevKey) importAt.add(t);
    prevKey = key;
    const xKey = v && v.exportPricePerKWh !== undefined ? v.id : 'none';
    if (xKey !== (prevExport ?? 'none')) exportAt.add(t);
    prevExport = xKey;
    if (!v) continue;
    const e = register(imp, t + MIN) - register(imp, t);
    energyByPiece += e;
    // tiers: this minute's energy on the tariff's counter
    const c0 = counters.get(v.tariff) ?? 0n;
    counters.set(v.tariff, c0 + e);
    const limits = [...v.tierLimitsWh.map(BigInt)];
    for (let tier = 0; tier <= limits.length; tier++) {
      const lo = tier === 0 ? 0n : limits[tier - 1]!;
      const hi = tier < limits.length ? limits[tier]! : c0 + e + 1n;
      const a = c0 > lo ? c0 : lo;
      const b = c0 + e < hi ? c0 + e : hi;
      if (b > a) {
        const k = `energy/${v.id}/${v.bands[band]!.name}/${tier}`;
        const l = lines.get(k) ?? { key: k, energyWh: 0n, amount: 0n };
        l.energyWh! += b - a;
        lines.set(k, l);
      }
    }
    // standing: this minute's share of its local day
    const d = days.get(v.id) ?? { num: 0n, den: 1n };
    const len = BigInt(lenOf(v, dateText(wall(v, t))));
    const num = d.num * len + d.den;
    const den = d.den * len;
    const g = gcd(num, den);
    days.set(v.id, { num: num / g, den: den / g });
    if (v.exportPricePerKWh !== undefined && exp.length) {
      const k = `export/${v.id}`;
      const l = lines.get(k) ?? { key: k, energyWh: 0n, amount: 0n };
      l.energyWh! += register(exp, t + MIN) - register(exp, t);
      lines.set(k, l);
    }
  }
  if ((prevExport ?? 'none') !== 'none') exportAt.add(end);

  let total = 0n;
  for (const v of versions) {
    const d = days.get(v.id);
    if (!d) continue;
    const amount = halfEven(d.num * BigInt(v.standingChargePerDay), d.den * 10n ** (6n - minor));
    lines.set(`standing/${v.id}`, { key: `standing/${v.id}`, days: d.den === 1n ? `${d.num}` : `${d.num}/${d.den}`, amount });
  }
  for (const [k, l] of lines) {
    if (l.energyWh === undefined) continue;
    if (l.energyWh === 0n) {
      lines.delete(k);
      continue;
    }
    const [kind, id, band, tier] = k.split('/');
    const v = versions.find((x) => x.id === id)!;
    const price = kind === 'export' ? v.exportPricePerKWh! : v.bands.find((b) => b.name === band)!.pricesPerKWh[Number(tier)]!;
    const money = halfEven(l.energyWh * BigInt(price), 10n ** (9n - minor));
    l.amount = kind === 'export' ? -money : money;
  }
  for (const l of lines.values()) total += l.amount;

  // The readings needed: each boundary's bracket (§6.1).
  const used = new Set<bigint>();
  const bracketInto = (rs: { time: number; seq: bigint }[], at: number): void => {
    const atIt = rs.filter((r) => r.time === at);
    if (atIt.length) {
      used.add(atIt[atIt.length - 1]!.seq);
      return;
    }
    const below = rs.filter((r) => r.time < at);
    const above = rs.filter((r) => r.time > at);
    if (below.length) used.add(below[below.length - 1]!.seq);
    if (above.length) used.add(above[0]!.seq);
  };
  for (const at of importAt) bracketInto(imp, at);
  for (const at of exportAt) bracketInto(exp, at);
  return { start, end, lines, total, used: [...used].sort((a, b) => (a < b ? -1 : 1)).map(String), energyByPiece };
}
