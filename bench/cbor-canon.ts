/**
 * `npm run bench -- cbor-canon`: the deterministic-CBOR check (RFC 8949 §4.2.1) of issue
 * 15, in process: decoding the CBOR items a validator decodes canonically for a reading
 * transaction (the COSE_Sign1, its protected header, the payload), a sealed reading (the
 * same, and its padded plaintext, decoded as a prefix) and a bill (a month of 15-minute
 * readings, as bill-engine), with the check that re-encodes and compares (the reference in
 * test/helpers/cbor-reencode.ts) and with the one-pass walk (protocols/cbor-canonical.ts).
 * The two run in alternating rounds of the same work; each round's ratio is old / new
 * CPU time, and the figure is the median of the rounds (the box is shared: a round that met
 * another tenant's burst moves both sides of a neighbouring pair alike).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tagged, computeBill, decodeCanonicalCbor, decodeCanonicalCborPrefix, decodeCbor, encodeBill } from '../protocols/index.js';
import { decodeCanonicalCborByReencode, decodeCanonicalCborPrefixByReencode } from '../test/helpers/cbor-reencode.js';
import { benchTariff, monthOfReadings } from './bill-engine.js';
import { type BenchResult, ROOT, ratio, verdict } from './lib/env.js';

const ROUNDS = Number(process.env.BENCH_CBOR_ROUNDS ?? 31);
/** Each round decodes every message this many times with one check, then with the other. */
const PER_ROUND = Number(process.env.BENCH_CBOR_PER_ROUND ?? 1000);

interface Message {
  readonly name: string;
  /** The items decoded whole, and the one decoded as a prefix (a sealed plaintext). */
  readonly whole: Uint8Array[];
  readonly prefix?: Uint8Array;
}

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

/** The COSE_Sign1 bytes and the two items inside it the decoder checks again. */
function coseItems(tx: Uint8Array): Uint8Array[] {
  const outer = decodeCbor(tx);
  if (!(outer instanceof Tagged) || !Array.isArray(outer.value)) throw new Error('not a COSE_Sign1_Tagged');
  const [prot, , payload] = outer.value as Uint8Array[];
  return [tx, prot!, payload!];
}

function messages(): Message[] {
  const vectors = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(ROOT, 'test', 'vectors', name), 'utf8')) as Record<string, unknown>;
  const reading = (vectors('readings.json').cases as { tx: string }[])[0]!;
  const sealed = (vectors('confidential.json').readings as { tx: string; plaintext: string }[])[0]!;
  const bill = encodeBill(computeBill({
    meterId: 'meter-0', period: '2026-03', currency: { code: 'EUR', minorUnits: 2 },
    agreements: [{ from: Date.parse('2026-01-01T00:00:00Z'), tariff: 'bench-tou' }], tariffs: [benchTariff()], readings: monthOfReadings(0),
  }));
  return [
    { name: 'reading tx', whole: coseItems(hex(reading.tx)) },
    { name: 'sealed reading tx', whole: coseItems(hex(sealed.tx)), prefix: hex(sealed.plaintext) },
    { name: 'bill', whole: [bill] },
  ];
}

type Check = { whole: (b: Uint8Array) => unknown; prefix: (b: Uint8Array) => unknown };
const OLD: Check = { whole: (b) => decodeCanonicalCborByReencode(b), prefix: (b) => decodeCanonicalCborPrefixByReencode(b) };
const NEW: Check = { whole: (b) => decodeCanonicalCbor(b), prefix: (b) => decodeCanonicalCborPrefix(b) };

/**
 * CPU µs per message (this process, all its threads: the garbage a re-encode leaves is
 * collected off the main thread too) over `n` decodes of every item of `m` with `check`.
 * CPU time, not wall time: on a shared box the wall clock also counts the time this
 * process waited for a core.
 */
function timeRound(m: Message, check: Check, n: number): number {
  let sink = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    for (const b of m.whole) sink += check.whole(b) === undefined ? 0 : 1;
    if (m.prefix) sink += check.prefix(m.prefix) === undefined ? 0 : 1;
  }
  const c = process.cpuUsage(c0);
  if (sink === 0) throw new Error('nothing decoded');
  return (c.user + c.system) / n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function cborCanonBench(): Promise<BenchResult> {
  const rows: BenchResult['rows'] = [];
  const data: Record<string, unknown> = { rounds: ROUNDS, perRound: PER_ROUND };
  for (const m of messages()) {
    // Both must agree before either is timed.
    for (const b of m.whole) if (JSON.stringify(OLD.whole(b), replacer) !== JSON.stringify(NEW.whole(b), replacer)) throw new Error(`${m.name}: the checks disagree`);
    const bytes = m.whole.reduce((n, b) => n + b.length, 0) + (m.prefix?.length ?? 0);
    timeRound(m, OLD, PER_ROUND); // warm-up (JIT) of both
    timeRound(m, NEW, PER_ROUND);
    const olds: number[] = [];
    const news: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always runs on a warmer cache.
      const [a, b] = r % 2 ? [timeRound(m, NEW, PER_ROUND), timeRound(m, OLD, PER_ROUND)] : [timeRound(m, OLD, PER_ROUND), timeRound(m, NEW, PER_ROUND)];
      const [o, n] = r % 2 ? [b, a] : [a, b];
      olds.push(o);
      news.push(n);
      ratios.push(o / n);
      await new Promise((res) => setImmediate(res));
    }
    const oldUs = median(olds);
    const newUs = median(news);
    const x = median(ratios);
    rows.push([
      `${m.name} (${m.whole.length + (m.prefix ? 1 : 0)} items, ${bytes} B): decode + check, re-encode / one pass`,
      `${ratio(x)}x (${oldUs.toFixed(2)} / ${newUs.toFixed(2)} µs)`, '> 1.00x', verdict(x > 1),
    ]);
    data[m.name] = { items: m.whole.length + (m.prefix ? 1 : 0), bytes, reencodeUs: olds, onePassUs: news, ratios, medianReencodeUs: oldUs, medianOnePassUs: newUs, medianRatio: x };
  }
  return { name: 'cbor-canon', rows, data };
}

/** JSON of decoded values, for the agreement check: bigint, bytes, maps and tags spelled out. */
function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Map) return [...v];
  if (v instanceof Tagged) return { tag: v.tag, value: v.value };
  return v;
}
