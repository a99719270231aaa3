/**
 * The JSON vectors in test/vectors/ are what the protocol is: rebuilding them from the
 * fixed keys must give the same bytes, and each signed reading must check out field by field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Alg, TxType, decodeTx, encodeProtectedHeader, encodeTxBody, fromHex, isReadingTx, publicKeyOf, sha256,
  sigStructure, signTx, toHex, verifySignature,
} from '../../protocols/index.js';
import { KeyObjectCache, nativeVerify } from '../../ledger-node/crypto/native.js';
import { buildAll, readVector, vectorText } from './generate.js';
import type { ReadingsFile } from './types.js';

const readings = readVector<ReadingsFile>('readings.json');

test('vectors on disk equal the vectors rebuilt from the fixed keys (encoding is frozen)', () => {
  for (const [name, v] of Object.entries(buildAll())) {
    const onDisk = readVector<unknown>(name);
    assert.equal(vectorText(onDisk), vectorText(v), `${name} differs: run node dist/test/vectors/generate.js and review the diff`);
  }
});

test('reading vectors: RFC 9052 §4.2 COSE_Sign1_Tagged decodes to the listed fields', () => {
  assert.ok(readings.cases.length >= 6);
  for (const c of readings.cases) {
    const tx = decodeTx(fromHex(c.tx));
    assert.ok(isReadingTx(tx), c.name);
    const b = tx.body;
    assert.equal(b.meterId, c.reading.meterId, c.name);
    assert.equal(b.seq, BigInt(c.reading.seq), c.name);
    assert.equal(b.time, c.reading.time, c.name);
    assert.equal(b.importWh, c.reading.importWh, c.name);
    assert.equal(b.exportWh, c.reading.exportWh, c.name);
    assert.equal(b.powerW, c.reading.powerW, c.name);
    assert.equal(tx.cose.alg, c.algId, c.name);
    assert.equal(tx.cose.kid, undefined, c.name);
    assert.equal(toHex(tx.cose.protectedBytes), c.protectedHeader, c.name);
    assert.equal(toHex(tx.cose.payload), c.payload, c.name);
    assert.equal(toHex(tx.cose.signature), c.signature, c.name);
    assert.equal(toHex(tx.hash), c.txHash, c.name);
    assert.equal(toHex(sha256(fromHex(c.tx))), c.txHash, c.name);
  }
});

test('reading vectors: RFC 9052 §4.4 Sig_structure ["Signature1", protected, external_aad = chain id, payload]', () => {
  for (const c of readings.cases) {
    const tx = decodeTx(fromHex(c.tx));
    assert.equal(toHex(sigStructure(tx.cose.protectedBytes, tx.cose.payload, c.chainId)), c.sigStructure, c.name);
    // Array of 4, text "Signature1", then the protected bstr: the fixed prefix a firmware can hard-code.
    assert.ok(c.sigStructure.startsWith(`846a5369676e617475726531${c.algId === -8 ? '43a10127' : '43a10126'}`), c.name);
    assert.equal(toHex(encodeProtectedHeader(c.algId)), c.protectedHeader, c.name);
  }
});

test('reading vectors: payload is the deterministic CBOR map of protocols/tx.ts labels', () => {
  for (const c of readings.cases) {
    const r = c.reading;
    const body = {
      type: TxType.Reading, meterId: r.meterId, seq: BigInt(r.seq), time: r.time, importWh: r.importWh,
      ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}), ...(r.powerW !== undefined ? { powerW: r.powerW } : {}),
    };
    assert.equal(toHex(encodeTxBody(body)), c.payload, c.name);
    if (!c.highS) assert.equal(toHex(signTx(c.chainId, c.algId, fromHex(c.secretKey), body)), c.tx, c.name);
  }
});

test('reading vectors: public keys derive from the secret keys (RFC 8032 §5.1.5, SEC1 §2.3.3)', () => {
  const forms = new Set<number>();
  for (const c of readings.cases) {
    const pk = fromHex(c.publicKey);
    forms.add(pk.length);
    const derived = publicKeyOf(c.algId, fromHex(c.secretKey));
    if (c.algId === Alg.EdDSA) assert.equal(c.publicKey, toHex(derived), c.name);
    else assert.equal(toHex(pk.subarray(1, 33)), toHex(derived.subarray(1)), c.name); // same x, either form
  }
  assert.deepEqual([...forms].sort(), [32, 33, 65], 'Ed25519, ES256 compressed and uncompressed all covered');
  assert.ok(readings.cases.some((c) => BigInt(c.reading.seq) > 2n ** 53n), 'a seq above 2^53 is covered');
  assert.ok(readings.cases.some((c) => c.highS), 'a high-S ES256 signature is covered');
});

test('reading vectors: every signature verifies with noble and with Node/OpenSSL', () => {
  const cache = new KeyObjectCache();
  for (const c of readings.cases) {
    const pk = fromHex(c.publicKey);
    const msg = fromHex(c.sigStructure);
    const sig = fromHex(c.signature);
    assert.equal(verifySignature(c.algId, pk, msg, sig), true, `noble: ${c.name}`);
    assert.equal(nativeVerify(c.algId, cache.get(c.algId, pk), msg, sig), true, `OpenSSL: ${c.name}`);
    // ... and only over those bytes, with that key.
    const other = msg.slice();
    other[other.length - 1]! ^= 1;
    assert.equal(verifySignature(c.algId, pk, other, sig), false, `noble, altered: ${c.name}`);
    assert.equal(nativeVerify(c.algId, cache.get(c.algId, pk), other, sig), false, `OpenSSL, altered: ${c.name}`);
  }
});
