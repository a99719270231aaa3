/**
 * Compact receipts and full-receipt requests (docs/protocol.md §8.3.1, §8.3.2): round trip,
 * size, the labels of the spec, and refusal of anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type CompactReceipt, type Receipt, compactReceiptOf, decodeCompactReceipt, decodeReceiptRequest, decodeReceiptsTopicMessage, encodeCbor,
  encodeCompactReceipt, encodeReceiptRequest, encodeReceiptsTopicMessage, fromHex, sha256, toHex, decodeReceipt,
} from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';
import type { BlockFile } from '../../vectors/types.js';

const v = readVector<BlockFile>('block.json');
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const compactArb: fc.Arbitrary<CompactReceipt> = fc.record({
  seq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), height: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  index: fc.integer({ min: 0, max: 2 ** 32 }), blockHash: bytes32, txHash: bytes32,
});

test('a compact receipt decodes to what was encoded, and is at most 103 bytes (every integer 8 bytes long), whatever seq, height and index', () => {
  fc.assert(fc.property(compactArb, (c) => {
    const b = encodeCompactReceipt(c);
    assert.ok(b.length <= 103, `${b.length} bytes`);
    assert.deepEqual(decodeCompactReceipt(b), { ...c });
    const m = decodeReceiptsTopicMessage(encodeReceiptsTopicMessage({ status: 'committed', ...c }));
    assert.deepEqual(m, { status: 'committed', ...c });
  }), { numRuns: 200 });
});

test('compactReceiptOf a receipt: its height, index, the block hash its commit certifies, SHA-256 of its tx', () => {
  const r: Receipt = decodeReceipt(fromHex(v.receipt.bytes));
  const c = compactReceiptOf(r, 7n);
  assert.deepEqual({ ...c, blockHash: toHex(c.blockHash), txHash: toHex(c.txHash) }, { seq: 7n, height: 1, index: v.receipt.index, blockHash: v.blockHash, txHash: v.receipt.txHash });
  assert.equal(toHex(encodeCompactReceipt(c)), v.receiptsTopic.compact);
});

test('the full committed message decodes with the same index and block hash as the compact one', () => {
  const full = decodeReceiptsTopicMessage(fromHex(v.receiptsTopic.committed));
  const compact = decodeReceiptsTopicMessage(fromHex(v.receiptsTopic.compact));
  assert.ok(full.status === 'committed' && full.receipt && compact.status === 'committed' && compact.receipt === undefined);
  const { receipt: _r, ...rest } = full;
  assert.deepEqual(rest, compact);
});

test('a compact receipt with an unknown or missing label, a wrong type, or non-deterministic CBOR is E_RECEIPT_MALFORMED', () => {
  const good = new Map<number, unknown>([[0, 1], [1, 7], [2, 1], [3, 3], [4, new Uint8Array(32)], [5, new Uint8Array(32)]]);
  const variant = (f: (m: Map<number, unknown>) => void): Uint8Array => {
    const m = new Map(good);
    f(m);
    return encodeCbor(m);
  };
  const cases: [string, Uint8Array][] = [
    ['unknown label 6', variant((m) => m.set(6, 0))],
    ['v 2', variant((m) => m.set(0, 2))],
    ['no seq', variant((m) => m.delete(1))],
    ['height 0', variant((m) => m.set(2, 0))],
    ['negative index', variant((m) => m.set(3, -1))],
    ['31-byte block hash', variant((m) => m.set(4, new Uint8Array(31)))],
    ['tx hash as text', variant((m) => m.set(5, 'ab'))],
    ['not a map', encodeCbor([1, 7])],
    ['seq 7 in two bytes (not shortest)', fromHex('a600011807020103030458200000000000000000000000000000000000000000000000000000000000000000055820' + '00'.repeat(32))],
  ];
  for (const [name, b] of cases) {
    assert.throws(() => decodeCompactReceipt(b), (e: { code?: string }) => e.code === 'E_RECEIPT_MALFORMED', name);
    assert.throws(() => decodeReceiptsTopicMessage(b), (e: { code?: string }) => e.code === 'E_RECEIPT_MALFORMED', name);
  }
  assert.doesNotThrow(() => decodeCompactReceipt(encodeCbor(good)));
});

test('receipt requests: {1: seq} or {5: txHash} and nothing else (E_RECEIPT_REQUEST_MALFORMED)', () => {
  assert.deepEqual(decodeReceiptRequest(fromHex(v.receiptsTopic.requestBySeq)), { seq: 7n });
  assert.equal(toHex((decodeReceiptRequest(fromHex(v.receiptsTopic.requestByTxHash)) as { txHash: Uint8Array }).txHash), v.receipt.txHash);
  assert.deepEqual(decodeReceiptRequest(encodeReceiptRequest({ seq: 2n ** 64n - 1n })), { seq: 2n ** 64n - 1n });
  const h = sha256(new Uint8Array([1]));
  const bad: [string, Uint8Array][] = [
    ['both labels', encodeCbor(new Map<number, unknown>([[1, 7], [5, h]]))],
    ['empty map', encodeCbor(new Map())],
    ['text key', encodeCbor({ seq: 7 })],
    ['negative seq', encodeCbor(new Map([[1, -1]]))],
    ['short hash', encodeCbor(new Map([[5, new Uint8Array(31)]]))],
    ['other label', encodeCbor(new Map([[2, 1]]))],
    ['a bare uint', encodeCbor(7)],
    ['not CBOR', new Uint8Array([0xff])],
    ['too long', encodeCbor(new Map([[5, new Uint8Array(100)]]))],
  ];
  for (const [name, b] of bad) assert.throws(() => decodeReceiptRequest(b), (e: { code?: string }) => e.code === 'E_RECEIPT_REQUEST_MALFORMED', name);
});
