/**
 * The reading index's hot path when a bill's meter is loaded: the index entry's own
 * decoder (store/codec.ts) gives what the strict CBOR decoder gives, and refuses what it
 * refuses; MemoryReadingIndex's queries (searching its (time, seq) list) answer as a
 * filter over all readings does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryReadingIndex, decodeCbor, encodeCbor } from '../../../protocols/index.js';
import { decodeIndexEntry, encodeIndexEntry } from '../../../ledger-node/store/codec.js';

test('decodeIndexEntry: entries as written come back whole; non-shortest, negative, unsafe, trailing or short ones are refused as before', () => {
  const entries = [
    { height: 0, index: 0, time: 0 },
    { height: 23, index: 24, time: 255, importWh: 256 },
    { height: 65_535, index: 65_536, time: 1_774_998_000_123, importWh: 4_294_967_296, exportWh: 0 },
    { height: 1, index: 2, time: 3, importWh: Number.MAX_SAFE_INTEGER, exportWh: 7 },
  ];
  for (const e of entries) assert.deepEqual(decodeIndexEntry(encodeIndexEntry(e), 5n, 'x'), { seq: 5n, ...e });
  const bad = [
    Uint8Array.of(0x83, 0x18, 0x05, 0x00, 0x00), // 5 in a 2-byte form
    Uint8Array.of(0x83, 0x19, 0x00, 0x10, 0x00, 0x00), // 16 in a 3-byte form
    Uint8Array.of(0x83, 0x00, 0x00, 0x00, 0x00), // trailing byte
    Uint8Array.of(0x83, 0x00, 0x00), // short
    Uint8Array.of(0x82, 0x00, 0x00), // 2 items
    Uint8Array.of(0x83, 0x00, 0x00, 0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0), // 2^53: not a safe integer
    Uint8Array.of(0x83, 0x00, 0x00, 0x61, 0x61), // a text string
  ];
  for (const b of bad) assert.throws(() => decodeIndexEntry(b, 1n, 'x'), (e: Error & { code?: string }) => e.code === 'E_STORE_CORRUPT', Buffer.from(b).toString('hex'));
  // A negative time is CBOR the strict path reads (and the old decoder accepted): still the same.
  const neg = encodeCbor([1, 2, -3, 4]);
  assert.deepEqual(decodeIndexEntry(neg, 1n, 'x'), { seq: 1n, height: 1, index: 2, time: -3, importWh: 4 });
  assert.deepEqual(decodeCbor(encodeIndexEntry(entries[2]!)), [65_535, 65_536, 1_774_998_000_123, 4_294_967_296, 0]);
});

test('MemoryReadingIndex: between, latestAtOrBefore, earliestAtOrAfter answer as a filter over every reading (heights, export, equal times)', () => {
  const idx = new MemoryReadingIndex();
  const all: { seq: bigint; time: number; height: number; importWh: number; exportWh?: number }[] = [];
  let x = 7;
  const rnd = (n: number): number => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
  for (let s = 1; s <= 400; s++) {
    const r = { seq: BigInt(s), time: rnd(120) * 10, height: 1 + rnd(8), importWh: s, ...(rnd(3) === 0 ? { exportWh: s } : {}) };
    all.push(r);
    idx.add('m', r);
  }
  const sorted = [...all].sort((a, b) => a.time - b.time || Number(a.seq - b.seq));
  const ok = (h: number, ex: boolean) => sorted.filter((r) => r.height <= h && (!ex || r.exportWh !== undefined));
  for (const h of [0, 1, 4, 8]) {
    for (const t of [-5, 0, 5, 10, 333, 590, 1190, 1200, 5000]) {
      for (const ex of [false, true]) {
        assert.deepEqual(idx.latestAtOrBefore('m', t, h, ex), ok(h, ex).filter((r) => r.time <= t).pop(), `latest ${t} ${h} ${ex}`);
        assert.deepEqual(idx.earliestAtOrAfter('m', t, h, ex), ok(h, ex).find((r) => r.time >= t), `earliest ${t} ${h} ${ex}`);
      }
      for (const to of [t, t + 1, t + 250, 10_000]) assert.deepEqual(idx.between('m', t, to, h), ok(h, false).filter((r) => r.time >= t && r.time <= to), `between ${t} ${to} ${h}`);
    }
  }
  assert.deepEqual(idx.between('none', 0, 1e9, 9), []);
  assert.equal(idx.latestAtOrBefore('none', 1e9, 9, false), undefined);
});
