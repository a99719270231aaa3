/**
 * Bodies from authenticated peers are decoded within bounds (docs/protocol.md §12.4): a
 * gossip batch, a proposal's block and a sync answer's block and commit made of millions
 * of tiny items are refused on their item heads, before any of them is built.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCbor } from '../../../protocols/index.js';
import { decodePeerMessage, decodeSyncAnswer, decodeTxBatch } from '../../../protocols/index.js';

/** A CBOR array (major type 4, 4-byte length) of `n` copies of the one-byte item `item`. */
function arrayOf(n: number, item: number): Uint8Array {
  const b = new Uint8Array(5 + n).fill(item);
  b.set([0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return b;
}
const refusedUnbuilt = /refused before decoding|more than \d+ items|nested deeper/;

test('a gossip batch of a million empty byte strings is refused before decoding', () => {
  assert.throws(() => decodeTxBatch(arrayOf(1 << 20, 0x40)), refusedUnbuilt);
  assert.equal(decodeTxBatch(encodeCbor([new Uint8Array(3)])).length, 1);
});

test('a proposal whose block is [header, a million empty maps] is refused before the block is decoded', () => {
  const n = 1 << 20;
  const block = new Uint8Array(2 + 1 + 5 + n);
  block.set([0x82, 0x40, 0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  block.fill(0xa0, 7);
  const proposal = encodeCbor({ t: 'proposal', from: 'v', height: 1, round: 0, validRound: -1, block: block.subarray(0, 7 + n), signature: new Uint8Array(64) });
  assert.throws(() => decodePeerMessage(proposal), (e: Error) => refusedUnbuilt.test(`${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`));
});

test('a sync answer carrying a block or a commit of a million items is refused as it is read', () => {
  const huge = arrayOf(1 << 20, 0xa0);
  assert.throws(() => decodeSyncAnswer(encodeCbor({ block: huge, commit: new Uint8Array(1) })), refusedUnbuilt);
  assert.throws(() => decodeSyncAnswer(encodeCbor({ block: encodeCbor([new Uint8Array(1), []]), commit: huge })), refusedUnbuilt);
  assert.deepEqual(decodeSyncAnswer(encodeCbor({ missing: true })), undefined);
});

test('a consensus message that is a map of a million entries is refused before decoding', () => {
  const n = 1 << 19;
  const m = new Uint8Array(5 + 2 * n).fill(0x00);
  m.set([0xba, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  assert.throws(() => decodePeerMessage(m), (e: Error) => refusedUnbuilt.test(`${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`));
});
