/**
 * cborCanonicalProblem (protocols/cbor-canonical.ts), the one-pass RFC 8949 §4.2.1 check
 * behind decodeCanonicalCbor and decodeCanonicalCborPrefix, against the check it replaced
 * (decode, re-encode with cborg, compare: test/helpers/cbor-reencode.ts). On random items
 * written canonically and in every non-canonical way we know of, both must accept and
 * refuse the same inputs, decode accepted ones to equal values, and refuse with the same
 * message but for one: where cborg's map sorter threw its own error, the walk refuses
 * with the deterministic-encoding one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Tagged, cborCanonicalProblem, decodeCanonicalCbor, decodeCanonicalCborPrefix, encodeCbor } from '../../../protocols/index.js';
import { decodeCanonicalCborByReencode, decodeCanonicalCborPrefixByReencode } from '../../helpers/cbor-reencode.js';
import { rng as prng } from '../../helpers/consensus-sim.js';

const NOT_DETERMINISTIC = 'CBOR is not in deterministic encoding (RFC 8949 §4.2.1)';
const SORTER_THREW = 'rfc8949MapSorter: complex key types are not supported yet';

/** An item as written, not as meant: maps are entry lists (any order, repeats allowed). */
type Item =
  | { t: 'uint' | 'nint'; arg: bigint }
  | { t: 'bytes'; b: Uint8Array }
  | { t: 'text'; b: Uint8Array }
  | { t: 'array'; v: Item[] }
  | { t: 'map'; v: [Item, Item][] }
  | { t: 'tag'; tag: bigint; v: Item }
  | { t: 'simple'; v: number }
  | { t: 'float'; width: 2 | 4 | 8; bits: Uint8Array };

const utf8 = new TextEncoder();

const floatBits = (width: 4 | 8, x: number): Uint8Array => {
  const b = new Uint8Array(width);
  const v = new DataView(b.buffer);
  if (width === 4) v.setFloat32(0, x);
  else v.setFloat64(0, x);
  return b;
};

const intArg = fc.oneof(
  fc.bigInt({ min: 0n, max: 30n }),
  fc.constantFrom(23n, 24n, 255n, 256n, 65535n, 65536n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

const floatItem: fc.Arbitrary<Item> = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((h) => ({ t: 'float' as const, width: 2 as const, bits: Uint8Array.of(h >> 8, h & 0xff) })),
  fc.float({ noNaN: true }).map((x) => ({ t: 'float' as const, width: 4 as const, bits: floatBits(4, x) })),
  fc.double({ noNaN: true }).map((x) => ({ t: 'float' as const, width: 8 as const, bits: floatBits(8, x) })),
  fc.constantFrom(0, 1, -1, 0.5, 1.5, -0, 65504, 2 ** -24, 3 * 2 ** -24, 2 ** 53, 1e300).map((x) => ({ t: 'float' as const, width: 8 as const, bits: floatBits(8, x) })),
);

const textItem: fc.Arbitrary<Item> = fc.oneof(
  fc.string({ maxLength: 6 }).map((s) => ({ t: 'text' as const, b: utf8.encode(s) })),
  fc.string({ unit: 'grapheme', maxLength: 4 }).map((s) => ({ t: 'text' as const, b: utf8.encode(s) })),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => ({ t: 'text' as const, b: utf8.encode(s) })),
  // Not UTF-8, or not as cborg gives it back: overlong, surrogate, past U+10FFFF, cut short, a BOM.
  fc.constantFrom([0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x9f, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xef, 0xbb, 0xbf, 0x61], [0x61, 0xef, 0xbb, 0xbf], [0xff], [0x80])
    .map((b) => ({ t: 'text' as const, b: Uint8Array.from(b) })),
  fc.uint8Array({ maxLength: 6 }).map((b) => ({ t: 'text' as const, b })),
);

const leaf: fc.Arbitrary<Item> = fc.oneof(
  { arbitrary: intArg.map((arg) => ({ t: 'uint' as const, arg })), weight: 3 },
  { arbitrary: intArg.map((arg) => ({ t: 'nint' as const, arg })), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 30 }).map((b) => ({ t: 'bytes' as const, b })), weight: 2 },
  { arbitrary: textItem, weight: 3 },
  { arbitrary: fc.constantFrom(20, 21, 22, 20, 21, 22, 23, 0, 19, 24, 32, 255).map((v) => ({ t: 'simple' as const, v })), weight: 1 },
  { arbitrary: floatItem, weight: 2 },
);

const item: fc.Arbitrary<Item> = fc.letrec<{ node: Item }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    { arbitrary: leaf, weight: 4 },
    { arbitrary: fc.array(tie('node'), { maxLength: 5 }).map((v) => ({ t: 'array' as const, v })), weight: 1 },
    { arbitrary: fc.array(fc.tuple(fc.oneof({ arbitrary: leaf, weight: 6 }, { arbitrary: tie('node'), weight: 1 }), tie('node')), { maxLength: 5 }).map((v) => ({ t: 'map' as const, v })), weight: 2 },
    { arbitrary: fc.tuple(fc.constantFrom(18n, 18n, 18n, 0n, 24n, 256n), tie('node')).map(([tag, v]) => ({ t: 'tag' as const, tag, v })), weight: 1 }),
})).node;

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Write an item, its choices drawn from a seeded PRNG (a case is its seed). With `bend` 0 everything is in its shortest form and maps are sorted and
 * without repeats; otherwise each head, length, key order and float width is bent (long
 * forms, indefinite lengths, unsorted or repeated keys, wider floats, integers as floats)
 * with that probability (key order and repeats with `orderBend`).
 */
function write(x: Item, rnd: () => number, bend: number, orderBend = bend): number[] {
  const bent = (): boolean => bend > 0 && rnd() < bend;
  const head = (major: number, n: bigint): number[] => {
    let width = n < 24n ? 0 : n < 0x100n ? 1 : n < 0x10000n ? 2 : n < 0x100000000n ? 4 : 8;
    if (width < 8 && bent()) {
      const wider = [1, 2, 4, 8].filter((w) => w > width);
      width = wider[Math.floor(rnd() * wider.length)]!;
    }
    if (width === 0) return [(major << 5) | Number(n)];
    const out = [(major << 5) | (24 + Math.log2(width))];
    for (let i = width - 1; i >= 0; i--) out.push(Number((n >> BigInt(8 * i)) & 0xffn));
    return out;
  };
  switch (x.t) {
    case 'uint':
    case 'nint':
      if (x.arg < 1000n && bent()) {
        // An integer written as a float (a float the re-encode would write as an integer).
        const v = x.t === 'uint' ? Number(x.arg) : -1 - Number(x.arg);
        return [0xfb, ...floatBits(8, v)];
      }
      return head(x.t === 'uint' ? 0 : 1, x.arg);
    case 'bytes':
    case 'text': {
      const major = x.t === 'bytes' ? 2 : 3;
      if (x.b.length > 1 && bent()) {
        // An indefinite-length string of two chunks.
        const cut = 1 + Math.floor(rnd() * (x.b.length - 1));
        return [(major << 5) | 31, ...head(major, BigInt(cut)), ...x.b.subarray(0, cut), ...head(major, BigInt(x.b.length - cut)), ...x.b.subarray(cut), 0xff];
      }
      return [...head(major, BigInt(x.b.length)), ...x.b];
    }
    case 'array': {
      const body = x.v.flatMap((v) => write(v, rnd, bend, orderBend));
      return bent() ? [0x9f, ...body, 0xff] : [...head(4, BigInt(x.v.length)), ...body];
    }
    case 'map': {
      let entries = x.v.map(([k, v]) => [write(k, rnd, bend, orderBend), write(v, rnd, bend, orderBend)] as const);
      const bentOrder = orderBend > 0 && rnd() < orderBend ? Math.floor(rnd() * 3) : -1;
      if (bentOrder !== 0) {
        const seen = new Set<string>();
        entries = entries.filter(([k]) => !seen.has(k.join()) && (seen.add(k.join()), true));
        entries.sort((a, b) => compare(Uint8Array.from(a[0]), Uint8Array.from(b[0])));
      }
      // Bent: as generated (any order, repeats); sorted backwards; or an entry repeated.
      if (bentOrder === 1) entries.reverse();
      if (bentOrder === 2 && entries.length > 0) entries.splice(Math.floor(rnd() * entries.length), 0, entries[Math.floor(rnd() * entries.length)]!);
      const body = entries.flatMap(([k, v]) => [...k, ...v]);
      return bent() ? [0xbf, ...body, 0xff] : [...head(5, BigInt(entries.length)), ...body];
    }
    case 'tag':
      return [...head(6, x.tag), ...write(x.v, rnd, bend, orderBend)];
    case 'simple':
      return x.v < 24 ? [0xe0 | x.v] : [0xf8, x.v];
    case 'float': {
      const view = new DataView(x.bits.buffer, x.bits.byteOffset, x.width);
      if (x.width < 8 && bent()) {
        // The same value one width wider.
        const value = x.width === 4 ? view.getFloat32(0) : halfValue(view.getUint16(0));
        return x.width === 4 ? [0xfb, ...floatBits(8, value)] : [0xfa, ...floatBits(4, value)];
      }
      return [0xf8 + Math.log2(x.width), ...x.bits];
    }
  }
}

function halfValue(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const v = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant === 0 ? Infinity : NaN) : (mant + 1024) * 2 ** (exp - 25);
  return h & 0x8000 ? -v : v;
}

/** A few random byte faults: flip, drop, insert, cut. */
function mutate(b: number[], rnd: () => number): number[] {
  const out = [...b];
  const faults = 1 + Math.floor(rnd() * 2);
  for (let f = 0; f < faults && out.length > 0; f++) {
    const at = Math.floor(rnd() * out.length);
    const kind = Math.floor(rnd() * 4);
    if (kind === 0) out[at] = out[at]! ^ (1 << Math.floor(rnd() * 8));
    else if (kind === 1) out.splice(at, 1);
    else if (kind === 2) out.splice(at, 0, Math.floor(rnd() * 256));
    else out.length = at;
  }
  return out;
}

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

/** The one meant disagreement: the re-encode took a repeated key that the walk refuses. */
function duplicateKeyOnly(reference: Outcome, walk: Outcome, bytes: Uint8Array): boolean {
  return reference.ok && !walk.ok && walk.message === NOT_DETERMINISTIC && cborCanonicalProblem(bytes) === 'map has a duplicate key';
}

function assertSameOutcome(reference: Outcome, walk: Outcome, bytes: Uint8Array): void {
  if (duplicateKeyOnly(reference, walk, bytes)) return;
  const hex = Buffer.from(bytes).toString('hex');
  assert.equal(walk.ok, reference.ok, `accept/refuse differ on ${hex}: ${JSON.stringify(reference.ok ? 'accepted' : reference.message)}`);
  if (reference.ok && walk.ok) assert.deepStrictEqual(walk.value, reference.value, hex);
  if (!reference.ok && !walk.ok) assert.equal(walk.message, reference.message === SORTER_THREW ? NOT_DETERMINISTIC : reference.message, hex);
}

test('RFC 8949 §4.2.1: the one-pass check accepts and refuses what decode + re-encode + compare did, on 20,000 seeded items', () => {
  let accepted = 0;
  /** Why the walk refused items the decoder took, by reason: each kind must have come up. */
  const reasons = new Map<string, number>();
  fc.assert(fc.property(item, fc.integer(), fc.constantFrom([0, 0], [0, 0], [0.05, 0.05], [0.2, 0.2], [0, 0.6]), fc.boolean(), (x, seed, [bend, orderBend], faulty) => {
    const rnd = prng(seed);
    let raw = write(x, rnd, bend!, orderBend);
    if (faulty && rnd() < 0.5) raw = mutate(raw, rnd);
    const bytes = Uint8Array.from(raw);
    const reference = outcome(() => decodeCanonicalCborByReencode(bytes));
    const walk = outcome(() => decodeCanonicalCbor(bytes));
    assertSameOutcome(reference, walk, bytes);
    if (reference.ok) accepted++;
    else if (!walk.ok && walk.message === NOT_DETERMINISTIC) {
      const why = cborCanonicalProblem(bytes) ?? 'none';
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    // The prefix form, with something after the item.
    const padded = Uint8Array.from([...raw, ...(rnd() < 0.5 ? [] : [0, 0, Math.floor(rnd() * 256)])]);
    const refPrefix = outcome(() => decodeCanonicalCborPrefixByReencode(padded));
    const walkPrefix = outcome(() => decodeCanonicalCborPrefix(padded));
    assertSameOutcome(refPrefix, walkPrefix, padded);
  }), { numRuns: 20_000, seed: 0x15c0de });
  // The run is worth something only if both sides were exercised.
  assert.ok(accepted > 4000, `accepted ${accepted}`);
  for (const why of ['map keys not in bytewise order', 'float not in its shortest form', 'text is not UTF-8', 'text opens with a byte order mark', 'map key cborg cannot sort']) {
    assert.ok((reasons.get(why) ?? 0) >= 20, `${why}: ${reasons.get(why) ?? 0} of ${JSON.stringify([...reasons])}`);
  }
});

test('values cborg writes (encodeCbor) pass the walk, and decode to what was written', () => {
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    leaf: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }), fc.string({ unit: 'binary', maxLength: 40 }), fc.uint8Array({ maxLength: 40 }),
      fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })),
    node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }),
      fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: -300, max: 300 })), tie('node')), { maxLength: 4, selector: ([k]) => k }).map((es) => new Map(es)),
      tie('leaf').map((v) => new Tagged(18, v))),
  })).node;
  fc.assert(fc.property(value, (v) => {
    const bytes = encodeCbor(v);
    assert.equal(cborCanonicalProblem(bytes), undefined);
    assert.deepStrictEqual(decodeCanonicalCbor(bytes), decodeCanonicalCborByReencode(bytes));
  }), { numRuns: 2000, seed: 15 });
});

test('cborg specifics the walk keeps: the half-float conversion, a leading BOM, empty containers as keys, repeated keys', () => {
  const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
  const cases: [string, string, boolean][] = [
    ['1.5 as a half', 'f93e00', true],
    ['1.5 as a single', 'fa3fc00000', false],
    ['1.0 as a half (an integer)', 'f93c00', false],
    ['-0 as a half (the integer 0)', 'f98000', false],
    ['2^53 as a single (not a safe integer, so a float)', 'fa5a000000', true],
    ['3 x 2^-24 as a half: cborg writes it as a single', 'f90003', false],
    ['3 x 2^-24 as a single', 'fa33c00000', true],
    ['text "a" after a BOM', '64efbbbf61', false],
    ['text "a" then a BOM', '6461efbbbf', true],
    ['{0: 1, []: 2}: cborg sorts [] as 0', 'a200018002', true],
    ['{[]: 2, 0: 1}: and so keeps this order too', 'a280020001', true],
    ['{[0]: 1}: one entry, nothing to compare', 'a1810001', true],
    ['{[0]: 1, 0: 2}: cborg cannot sort it', 'a28100010002', false],
    ['{h"01": 1, h"01": 2}: repeated byte-string keys the decoder keeps, a duplicate key here', 'a2410101410102', false],
    ['{h"01": 1, h"02": 2}: distinct byte-string keys', 'a2410101410202', true],
    ['{[]: 1, 0: 2, []: 3}: [] twice in a run of keys sorting as 0', 'a3800100028003', false],
    ['{0: 1, []: 2, {}: 3}: three keys that sort as 0, none repeated', 'a300018002a003', true],
    ['{h"": 1, h"": 2}: but not empty ones (cborg hands out one empty Uint8Array)', 'a240014002', false],
    ['{"a": 1, "a": 2}: repeated text keys', 'a2616101616102', false],
  ];
  for (const [name, h, ok] of cases) {
    const bytes = hex(h);
    const ref = outcome(() => decodeCanonicalCborByReencode(bytes));
    const walk = outcome(() => decodeCanonicalCbor(bytes));
    assert.equal(walk.ok, ok, `${name}: ${walk.ok ? 'accepted' : walk.message}`);
    assertSameOutcome(ref, walk, bytes);
  }
});

test('the walk on its own refuses what the strict decoder refuses first: long heads, indefinite lengths, undefined, other simple values', () => {
  const cases: [string, number[], string | undefined][] = [
    ['23 in one extra byte', [0x18, 23], 'argument not in its shortest form'],
    ['a length of 255 in two bytes', [0x59, 0x00, 0xff, ...new Array<number>(255).fill(0)], 'argument not in its shortest form'],
    ['an array of 1 in four bytes', [0x9a, 0, 0, 0, 1, 0], 'argument not in its shortest form'],
    ['2^32 - 1 in eight bytes', [0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], 'argument not in its shortest form'],
    ['2^32 in eight bytes', [0x1b, 0, 0, 0, 1, 0, 0, 0, 0], undefined],
    ['tag 18 in one extra byte', [0xd8, 18, 0x80], 'argument not in its shortest form'],
    ['an indefinite array', [0x9f, 0xff], 'indefinite length'],
    ['undefined', [0xf7], 'undefined'],
    ['simple value 16', [0xf0], 'simple value'],
    ['simple value 255', [0xf8, 0xff], 'simple value'],
    ['a half NaN', [0xf9, 0x7e, 0x00], 'NaN or Infinity'],
    ['reserved additional information 28', [0x1c], 'reserved additional information'],
    ['a map missing its last value', [0xa1, 0x01], 'truncated'],
    ['a text string cut short', [0x63, 0x61], 'truncated'],
  ];
  for (const [name, bytes, why] of cases) assert.equal(cborCanonicalProblem(Uint8Array.from(bytes)), why, name);
});
