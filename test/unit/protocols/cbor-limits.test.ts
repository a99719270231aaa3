/**
 * cborLimitsProblem (protocols/cbor.ts): the head walk that bounds a decode before it
 * starts (RFC 8949 §3 heads, §4.2.1 definite lengths). It must agree with the decoder on
 * what one item is, count every data item, and refuse the issue-18 attack (a 4 MiB array
 * of empty maps) on its heads alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Tagged, cborLimitsProblem, decodeCanonicalCbor, encodeCbor } from '../../../protocols/index.js';

const LOTS = { maxItems: Number.MAX_SAFE_INTEGER, maxDepth: 1000 };

/** Items and depth of a decoded value as RFC 8949 counts them (a map entry is two items). */
function shape(v: unknown): { items: number; depth: number } {
  let items = 1;
  let depth = 0;
  const kids: unknown[] = v instanceof Map ? [...v].flat() : Array.isArray(v) ? v : v instanceof Tagged ? [v.value] : [];
  for (const k of kids) {
    const s = shape(k);
    items += s.items;
    depth = Math.max(depth, s.depth);
  }
  return { items, depth: depth + 1 };
}

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(fc.string({ maxLength: 4 }), tie('node')), { maxLength: 3, selector: ([k]) => k }).map((es) => new Map(es))),
})).node;

test('RFC 8949 §3: the head walk counts exactly the items and depth the decoder builds', () => {
  fc.assert(fc.property(value, (v) => {
    const bytes = encodeCbor(v);
    const { items, depth } = shape(decodeCanonicalCbor(bytes));
    assert.equal(cborLimitsProblem(bytes, { maxItems: items, maxDepth: depth }), undefined);
    assert.match(cborLimitsProblem(bytes, { maxItems: items - 1, maxDepth: depth }) ?? '', /more than/);
    if (depth > 1) assert.match(cborLimitsProblem(bytes, { maxItems: items, maxDepth: depth - 1 }) ?? '', /nested deeper/);
  }), { numRuns: 500 });
});

test('a tag is an item and a level: COSE_Sign1_Tagged (RFC 9052 §4.2) is tag, array, 4 items', () => {
  const cose = encodeCbor(new Tagged(18, [new Uint8Array(1), new Map(), new Uint8Array(2), new Uint8Array(64)]));
  assert.equal(cborLimitsProblem(cose, { maxItems: 6, maxDepth: 3 }), undefined);
  assert.ok(cborLimitsProblem(cose, { maxItems: 5, maxDepth: 3 }));
  assert.ok(cborLimitsProblem(cose, { maxItems: 6, maxDepth: 2 }));
});

test('issue 18: a 4 MiB array of empty maps is refused on its heads, after maxItems + 1 of them', () => {
  const n = 4 * 1024 * 1024;
  const attack = new Uint8Array(5 + n).fill(0xa0);
  attack.set([0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  assert.equal(cborLimitsProblem(attack, { maxItems: 1000, maxDepth: 4 }), 'more than 1000 items');
  assert.throws(() => decodeCanonicalCbor(attack, { maxItems: 1000, maxDepth: 4 }), /refused before decoding: more than 1000 items/);
  // And nesting: a million nested one-element arrays.
  const deep = new Uint8Array(1 << 20).fill(0x81);
  assert.equal(cborLimitsProblem(deep, { maxItems: 1 << 21, maxDepth: 16 }), 'nested deeper than 16');
});

test('framing faults are refused by the walk as the decoder would: truncation, lying lengths, indefinite, reserved', () => {
  const cases: [string, number[], string][] = [
    ['empty', [], 'truncated'],
    ['array of 2^32-1 items in 5 bytes', [0x9a, 0xff, 0xff, 0xff, 0xff], 'truncated'],
    ['map of 2^64-1 entries', [0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'truncated'],
    ['byte string longer than the input', [0x5a, 0x00, 0x10, 0x00, 0x00, 0x01], 'truncated'],
    ['head argument cut short', [0x19, 0x01], 'truncated'],
    ['array missing its last item', [0x83, 0x01, 0x02], 'truncated'],
    ['indefinite array', [0x9f, 0x01, 0xff], 'indefinite length'],
    ['reserved additional information 28', [0x1c], 'reserved additional information'],
  ];
  for (const [name, bytes, why] of cases) assert.equal(cborLimitsProblem(Uint8Array.from(bytes), LOTS), why, name);
  // One item is one item: what follows it is the decoder's to refuse.
  assert.equal(cborLimitsProblem(Uint8Array.from([0x01, 0x02]), LOTS), undefined);
  assert.throws(() => decodeCanonicalCbor(Uint8Array.from([0x01, 0x02]), LOTS));
});
