/**
 * The receipt encoders splice parts encoded once per block (header, commit certificate)
 * into each receipt: their bytes must equal the generic deterministic encoding of the
 * same value, for any receipt, whether the shared parts come from the cache or not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type BlockHeader, type CommitCertificate, type Receipt, decodeReceipt, decodeReceiptsTopicMessage, encodeCbor, encodeHeader,
  encodeReceipt, encodeReceiptsTopicMessage, receiptToCbor, textKeyMapEncoder, toHex,
} from '../../../protocols/index.js';

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  chainId: fc.string({ minLength: 1, maxLength: 40 }), height: fc.integer({ min: 1, max: 2 ** 40 }), time: fc.maxSafeNat(),
  prevHash: bytes32, txRoot: bytes32, txCount: fc.integer({ min: 1, max: 100_000 }), proposer: fc.string({ minLength: 1, maxLength: 20 }),
});
const commitArb: fc.Arbitrary<CommitCertificate> = fc.record({
  height: fc.integer({ min: 1, max: 2 ** 40 }), round: fc.nat(50), blockHash: bytes32,
  signatures: fc.array(fc.record({ validator: fc.string({ minLength: 1, maxLength: 20 }), signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) }), { maxLength: 7 }),
});
const leafArb = fc.record({
  tx: fc.uint8Array({ minLength: 1, maxLength: 300 }), index: fc.nat(100_000), proof: fc.array(bytes32, { maxLength: 20 }),
  txHash: bytes32, seq: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
});

const generic = (r: Receipt): string => toHex(encodeCbor(receiptToCbor(r)));

test('encodeReceipt and the committed message equal the generic deterministic encoding, for every leaf of a block', () => {
  fc.assert(
    fc.property(headerArb, commitArb, fc.array(leafArb, { minLength: 1, maxLength: 5 }), (header, commit, leaves) => {
      for (const l of leaves) {
        // The same header and commit objects for all leaves, as ChainWriter passes them: cache hits after the first.
        const receipt: Receipt = { chainId: header.chainId, tx: l.tx, index: l.index, header, proof: l.proof, commit };
        const enc = encodeReceipt(receipt);
        assert.equal(toHex(enc), generic(receipt));
        assert.deepEqual(decodeReceipt(enc).tx, l.tx);
        const m = encodeReceiptsTopicMessage({ status: 'committed', txHash: l.txHash, seq: l.seq, height: header.height, index: l.index, blockHash: commit.blockHash, receipt });
        assert.equal(toHex(m), toHex(encodeCbor({ status: 'committed', txHash: l.txHash, seq: l.seq, height: header.height, receipt: receiptToCbor(receipt) })));
        const back = decodeReceiptsTopicMessage(m);
        assert.equal(back.status, 'committed');
      }
    }),
    { numRuns: 150 },
  );
});

test('a new header or chain id with the same commit object is not served from the cache', () => {
  const header: BlockHeader = { chainId: 'c1', height: 3, time: 5, prevHash: new Uint8Array(32), txRoot: new Uint8Array(32).fill(1), txCount: 1, proposer: 'v1' };
  const commit: CommitCertificate = { height: 3, round: 0, blockHash: new Uint8Array(32).fill(2), signatures: [] };
  const r: Receipt = { chainId: 'c1', tx: Uint8Array.of(1, 2), index: 0, header, proof: [], commit };
  assert.equal(toHex(encodeReceipt(r)), generic(r));
  const r2: Receipt = { ...r, header: { ...header, height: 4 } };
  assert.equal(toHex(encodeReceipt(r2)), generic(r2));
  assert.notEqual(toHex(encodeReceipt(r2)), toHex(encodeReceipt(r)));
  const r3: Receipt = { ...r, chainId: 'c2' };
  assert.equal(toHex(encodeReceipt(r3)), generic(r3));
  assert.ok(toHex(encodeReceipt(r)).includes(toHex(encodeCbor(encodeHeader(header)))));
});

test('textKeyMapEncoder sorts keys as RFC 8949 §4.2.1 does (shorter encoded key first), for maps past 23 entries too', () => {
  const keys = Array.from({ length: 30 }, (_, i) => `k${'x'.repeat(i % 7)}${i}`);
  const enc = textKeyMapEncoder(keys);
  const values = Object.fromEntries(keys.map((k, i) => [k, encodeCbor(i)]));
  assert.equal(toHex(enc(values)), toHex(encodeCbor(Object.fromEntries(keys.map((k, i) => [k, i])))));
  const small = textKeyMapEncoder(['receipt', 'seq', 'status']);
  assert.equal(toHex(small({ receipt: encodeCbor([1]), seq: encodeCbor(2n ** 63n), status: encodeCbor('x') })), toHex(encodeCbor({ status: 'x', seq: 2n ** 63n, receipt: [1] })));
});
