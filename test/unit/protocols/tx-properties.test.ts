/**
 * Properties of the transaction codec (fast-check): random valid readings round-trip byte
 * for byte. (Random and mutated input to decodeTx: decoders-fuzz.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Alg, MAX_SEQ, type Reading, TxType, decodeTx, encodeTxBody, isReadingTx, publicKeyOf,
  sigStructure, signTx, verifySignature,
} from '../../../protocols/index.js';
import { CHAIN_ID, seed } from '../../vectors/generate.js';

const meterIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const readingArb: fc.Arbitrary<Reading> = fc.record(
  {
    type: fc.constant(TxType.Reading),
    meterId: meterIdArb,
    seq: fc.bigInt({ min: 1n, max: MAX_SEQ }),
    time: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    importWh: fc.maxSafeNat(),
    exportWh: fc.maxSafeNat(),
    powerW: fc.maxSafeInteger(),
  },
  { requiredKeys: ['type', 'meterId', 'seq', 'time', 'importWh'] },
);

test('round-trip: a random valid reading signs, decodes to itself and verifies (seq 1..2^64-1)', () => {
  fc.assert(
    fc.property(readingArb, fc.constantFrom(Alg.EdDSA, Alg.ES256), (r, alg) => {
      const sk = seed(`rt-${alg}`);
      const bytes = signTx(CHAIN_ID, alg, sk, r);
      const tx = decodeTx(bytes, 4096);
      assert.ok(isReadingTx(tx));
      assert.deepEqual(tx.body, { ...r });
      assert.deepEqual(encodeTxBody(tx.body), tx.cose.payload, 'the payload re-encodes to the same bytes');
      assert.equal(verifySignature(alg, publicKeyOf(alg, sk), sigStructure(tx.cose.protectedBytes, tx.cose.payload, CHAIN_ID), tx.cose.signature), true);
    }),
    { numRuns: 300 },
  );
});

test('a reading with every optional field at its largest still fits the default 1024 bytes', () => {
  const r: Reading = {
    type: TxType.Reading, meterId: 'M'.repeat(64), seq: MAX_SEQ, time: Number.MAX_SAFE_INTEGER,
    importWh: Number.MAX_SAFE_INTEGER, exportWh: Number.MAX_SAFE_INTEGER, powerW: Number.MIN_SAFE_INTEGER,
  };
  const bytes = signTx(CHAIN_ID, Alg.ES256, seed('big'), r);
  assert.ok(bytes.length < 200, `${bytes.length} bytes`);
  assert.deepEqual(decodeTx(bytes).body, r);
});
