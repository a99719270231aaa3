/**
 * block.json → receiptsTopic.compact, requestBySeq, requestByTxHash (docs/protocol.md
 * §8.3.1, §8.3.2) read with the test's own CBOR decoder (test/helpers/mini-cbor.ts) and
 * node:crypto, not protocols/: what a meter's firmware, written from the spec alone, reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readVector } from './generate.js';
import type { BlockFile } from './types.js';
import { type MiniValue, miniDecode, miniEncode } from '../helpers/mini-cbor.js';

const v = readVector<BlockFile>('block.json');
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const hex = (b: MiniValue | undefined): string => {
  assert.ok(b instanceof Uint8Array, 'a byte string');
  return Buffer.from(b).toString('hex');
};

function entries(b: Uint8Array): [MiniValue, MiniValue][] {
  const [m, used] = miniDecode(b);
  assert.equal(used, b.length, 'one item, nothing after it');
  assert.ok(typeof m === 'object' && !(m instanceof Uint8Array) && !Array.isArray(m) && 'map' in m, 'a map');
  // Deterministic: re-encoding the decoded item gives the same bytes (shortest heads, keys in order).
  assert.equal(Buffer.from(miniEncode(m)).toString('hex'), Buffer.from(b).toString('hex'));
  return m.map;
}

test('compact receipt: labels 0-5 in order, v 1, and the seq, height, index, block hash and tx hash of block.json', () => {
  const b = bytes(v.receiptsTopic.compact);
  const e = entries(b);
  assert.deepEqual(e.map(([k]) => k), [0n, 1n, 2n, 3n, 4n, 5n]);
  const at = (k: bigint): MiniValue => e.find(([key]) => key === k)![1];
  assert.equal(at(0n), 1n);
  assert.equal(at(1n), 7n); // the seq of readings.json's reading at index 3 (meter-p256-0001)
  assert.equal(at(2n), BigInt(v.header.height));
  assert.equal(at(3n), BigInt(v.receipt.index));
  assert.equal(hex(at(4n)), v.blockHash);
  // The block hash is SHA-256 of the header bytes, the tx hash SHA-256 of the committed transaction.
  assert.equal(createHash('sha256').update(bytes(v.headerBytes)).digest('hex'), v.blockHash);
  assert.equal(hex(at(5n)), v.receipt.txHash);
  assert.equal(createHash('sha256').update(bytes(v.txs[v.receipt.index]!)).digest('hex'), v.receipt.txHash);
  assert.ok(b.length < 100, `${b.length} bytes`);
  assert.ok(b.length * 10 < bytes(v.receiptsTopic.committed).length, 'about a tenth of the full committed message, or less');
});

test('receipt requests: {1: seq} and {5: txHash}', () => {
  assert.deepEqual(entries(bytes(v.receiptsTopic.requestBySeq)), [[1n, 7n]]);
  const byHash = entries(bytes(v.receiptsTopic.requestByTxHash));
  assert.equal(byHash.length, 1);
  assert.equal(byHash[0]![0], 5n);
  assert.equal(hex(byHash[0]![1]), v.receipt.txHash);
});

test('the full committed message carries the same seq and tx hash, and the receipt whose commit names the block hash', () => {
  const e = entries(bytes(v.receiptsTopic.committed));
  const at = (k: string): MiniValue => e.find(([key]) => key === k)![1];
  assert.equal(at('status'), 'committed');
  assert.equal(at('seq'), 7n);
  assert.equal(hex(at('txHash')), v.receipt.txHash);
  const field = (m: MiniValue, k: string): MiniValue => {
    assert.ok(typeof m === 'object' && !(m instanceof Uint8Array) && !Array.isArray(m) && 'map' in m, 'a map');
    return m.map.find(([key]) => key === k)![1];
  };
  assert.equal(hex(field(field(at('receipt'), 'commit'), 'blockHash')), v.blockHash);
});
