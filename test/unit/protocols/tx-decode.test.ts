/**
 * decodeTx, the pure gate every transaction passes: size, COSE_Sign1 envelope, RFC 8949
 * §4.2.1 deterministic encoding, payload schema. Each refusal carries its reason code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  Alg, MAX_TX_BYTES, ReasonCode, RejectionError, TAG_COSE_SIGN1, Tagged, TxType, algFromName, decodeTx, decodeTxBody,
  encodeCbor, encodeCoseSign1, encodeProtectedHeader, encodeTxBody, fromHex, sigStructure, signMessage, signTx, verifySignature,
} from '../../../protocols/index.js';
import { KeyObjectCache, nativeVerify } from '../../../ledger-node/crypto/native.js';
import { CHAIN_ID, OPERATOR_ID, meterPublicKey, readVector, seed } from '../../vectors/generate.js';
import type { InvalidFile } from '../../vectors/types.js';
import { PAYLOAD_MAX_DEPTH } from '../../../protocols/payload.js';

const inv = readVector<InvalidFile>('invalid.json');
const sk = seed('meter-ed-0001');

/** Assert that `f` throws a RejectionError with `code` (and `field`, when given). */
function rejects(f: () => unknown, code: string, field?: string, what = ''): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof RejectionError, `${what}: expected RejectionError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (field !== undefined) assert.equal(e.field, field, `${what}: ${e.message}`);
    return true;
  });
}

const signedPayload = (m: Map<unknown, unknown>, prot = encodeProtectedHeader(Alg.EdDSA)): Uint8Array => {
  const payload = encodeCbor(m);
  return encodeCoseSign1(prot, payload, signMessage(Alg.EdDSA, sk, sigStructure(prot, payload, CHAIN_ID)));
};
const reading = (over: [number, unknown][] = []): Map<unknown, unknown> => {
  const m = new Map<unknown, unknown>([[0, 1], [1, 'meter-ed-0001'], [2, 1], [3, 1_700_000_000_000], [4, 0]]);
  for (const [k, v] of over) m.set(k, v);
  return m;
};

test('invalid.json: every "decode" case is refused by decodeTx with its reason code and field', () => {
  const decodeCases = inv.cases.filter((c) => c.stage === 'decode');
  assert.ok(decodeCases.length >= 40);
  for (const c of decodeCases) rejects(() => decodeTx(fromHex(c.tx), inv.maxTxBytes), c.code, c.field, c.name);
});

test('invalid.json: every "verify" case decodes, and neither noble nor OpenSSL accepts its signature', () => {
  const cache = new KeyObjectCache();
  const verifyCases = inv.cases.filter((c) => c.stage === 'verify');
  assert.ok(verifyCases.length >= 5);
  for (const c of verifyCases) {
    assert.equal(c.code, ReasonCode.BAD_SIGNATURE);
    const tx = decodeTx(fromHex(c.tx), inv.maxTxBytes);
    const key = inv.keys[tx.body.meterId];
    assert.ok(key, c.name);
    const alg = algFromName(key.alg);
    const pk = fromHex(key.publicKey);
    const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, inv.chainId);
    assert.equal(verifySignature(alg, pk, msg, tx.cose.signature), false, `noble: ${c.name}`);
    assert.equal(nativeVerify(alg, cache.get(alg, pk), msg, tx.cose.signature), false, `OpenSSL: ${c.name}`);
  }
});

test('every reason code decodeTx can produce is covered by invalid.json', () => {
  const covered = new Set(inv.cases.map((c) => c.code));
  for (const code of [ReasonCode.MALFORMED, ReasonCode.SCHEMA, ReasonCode.BAD_ALG, ReasonCode.TOO_LARGE, ReasonCode.BAD_SIGNATURE]) {
    assert.ok(covered.has(code), code);
  }
});

test('RFC 8949 §4.2.1 rejects non-shortest integers, unsorted keys, indefinite lengths', () => {
  const good = signTx(CHAIN_ID, Alg.EdDSA, sk, { type: TxType.Reading, meterId: 'm1', seq: 1n, time: 1, importWh: 1 });
  const hex = Buffer.from(good).toString('hex');
  // The 64-byte signature's length as 0x59 0040 instead of 0x58 40.
  rejects(() => decodeTx(fromHex(hex.replace(/5840([0-9a-f]{128})$/, '590040$1'))), ReasonCode.MALFORMED);
  // Indefinite-length outer array.
  rejects(() => decodeTx(fromHex(`d29f${hex.slice(4)}ff`)), ReasonCode.MALFORMED);
  // Payload map {0, 1, 3, 2, 4}: same content, keys out of order.
  const unsorted = fromHex('a5' + '0001' + '01626d31' + '0301' + '0201' + '0401');
  rejects(() => decodeTxBody(unsorted), ReasonCode.MALFORMED, 'payload');
  assert.equal(decodeTxBody(fromHex('a5' + '0001' + '01626d31' + '0201' + '0301' + '0401')).meterId, 'm1');
  // Duplicate key.
  rejects(() => decodeTxBody(fromHex('a6' + '0001' + '01626d31' + '0201' + '0301' + '0401' + '0402')), ReasonCode.MALFORMED, 'payload');
});

test('RFC 9052 §4.2 envelope: tag 18, array of 4, empty unprotected map, attached payload', () => {
  const prot = encodeProtectedHeader(Alg.EdDSA);
  const payload = encodeTxBody({ type: TxType.Reading, meterId: 'm1', seq: 1n, time: 1, importWh: 1 });
  const sig = new Uint8Array(64);
  assert.doesNotThrow(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map(), payload, sig]))));
  rejects(() => decodeTx(encodeCbor([prot, new Map(), payload, sig])), ReasonCode.MALFORMED);
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map(), payload, sig, sig]))), ReasonCode.MALFORMED);
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map([[1, -8]]), payload, sig]))), ReasonCode.MALFORMED, 'unprotected');
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [new Map([[1, -8]]), new Map(), payload, sig]))), ReasonCode.MALFORMED, 'protected');
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [prot, new Map(), payload, 'sig']))), ReasonCode.MALFORMED, 'signature');
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [encodeCbor([1, -8]), new Map(), payload, sig]))), ReasonCode.MALFORMED, 'protected');
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [encodeCbor(new Map<number, unknown>([[1, -8], [4, 7]])), new Map(), payload, sig]))), ReasonCode.MALFORMED, 'kid');
  rejects(() => decodeTx(encodeCbor(new Tagged(TAG_COSE_SIGN1, [encodeCbor(new Map<number, unknown>([[1, -8], [4, Uint8Array.of(0xff)]])), new Map(), payload, sig]))), ReasonCode.MALFORMED, 'kid');
});

test('RFC 9053 §2: only EdDSA (-8) and ES256 (-7) are accepted (E_READING_BAD_ALG)', () => {
  for (const alg of [-35, -36, -37, 1, 0, -257]) {
    rejects(() => decodeTx(signedPayload(reading(), encodeCbor(new Map([[1, alg]])))), ReasonCode.BAD_ALG, 'alg', `alg ${alg}`);
  }
});

test('E_READING_TOO_LARGE: the limit is inclusive and configurable (genesis params.maxTxBytes)', () => {
  const tx = signedPayload(reading());
  assert.doesNotThrow(() => decodeTx(tx, tx.length));
  rejects(() => decodeTx(tx, tx.length - 1), ReasonCode.TOO_LARGE);
  assert.equal(MAX_TX_BYTES, 1024);
  // Size is checked before parsing: garbage that is too large is TOO_LARGE, not MALFORMED.
  rejects(() => decodeTx(new Uint8Array(MAX_TX_BYTES + 1)), ReasonCode.TOO_LARGE);
});

test('E_READING_SCHEMA names the field: seq bounds 1..2^64-1, meter id pattern, types', () => {
  const ok = (over: [number, unknown][]) => decodeTx(signedPayload(reading(over)));
  assert.equal((ok([[2, 2n ** 64n - 1n]]).body as { seq: bigint }).seq, 2n ** 64n - 1n);
  assert.equal((ok([[2, 2n ** 53n]]).body as { seq: bigint }).seq, 2n ** 53n);
  rejects(() => ok([[2, 0]]), ReasonCode.SCHEMA, 'seq');
  rejects(() => ok([[2, -(2n ** 64n)]]), ReasonCode.SCHEMA, 'seq');
  rejects(() => ok([[2, 1.5]]), ReasonCode.SCHEMA, 'seq');
  rejects(() => ok([[2, true]]), ReasonCode.SCHEMA, 'seq');
  assert.equal(ok([[1, 'A'.repeat(64)]]).body.meterId.length, 64);
  for (const id of ['', '-x', 'a b', 'ä', 'a+b', 'a#', 'A'.repeat(65)]) rejects(() => ok([[1, id]]), ReasonCode.SCHEMA, 'meterId', id);
  rejects(() => ok([[1, 7]]), ReasonCode.SCHEMA, 'meterId');
  rejects(() => ok([[6, 'x']]), ReasonCode.SCHEMA, 'powerW');
  assert.equal((ok([[6, -(2 ** 40)]]).body as { powerW: number }).powerW, -(2 ** 40));
  rejects(() => ok([[5, -1]]), ReasonCode.SCHEMA, 'exportWh');
  rejects(() => decodeTx(signedPayload(new Map<unknown, unknown>([...reading(), [-1, 0]]))), ReasonCode.SCHEMA, 'payload');
  rejects(() => decodeTx(signedPayload(new Map<unknown, unknown>([...reading(), [Uint8Array.of(1), 0]]))), ReasonCode.SCHEMA, 'payload');
});

test('E_READING_SCHEMA for a type that only looks like one ("1", "constructor", "__proto__")', () => {
  // Regression: the type was used to index a plain object, so "1" passed as a reading and
  // decodeTx returned an undefined body; "constructor" threw a TypeError.
  for (const t of ['1', 'constructor', '__proto__', 'toString', 1.5, -1, 5, null]) {
    rejects(() => decodeTx(signedPayload(reading([[0, t]]))), ReasonCode.SCHEMA, 'type', String(t));
  }
});

test('operator transactions: register, rotate (keyEpoch >= 1), revoke, with kid', () => {
  const op = seed('operator-1');
  const pk = meterPublicKey(Alg.ES256, 'meter-p256-0003');
  const base = { meterId: 'meter-p256-0003', time: 1 };
  const reg = decodeTx(signTx(CHAIN_ID, Alg.EdDSA, op, { type: TxType.MeterRegister, ...base, alg: Alg.ES256, publicKey: pk, owner: 'john' }, OPERATOR_ID));
  assert.equal(reg.cose.kid, OPERATOR_ID);
  assert.deepEqual(reg.body, { type: TxType.MeterRegister, ...base, alg: Alg.ES256, publicKey: pk, owner: 'john' });
  const rot = decodeTx(signTx(CHAIN_ID, Alg.EdDSA, op, { type: TxType.MeterRotate, ...base, alg: Alg.EdDSA, publicKey: meterPublicKey(Alg.EdDSA, 'x'), keyEpoch: 3 }, OPERATOR_ID));
  assert.equal(rot.body.type === TxType.MeterRotate && rot.body.keyEpoch, 3);
  assert.deepEqual(decodeTx(signTx(CHAIN_ID, Alg.EdDSA, op, { type: TxType.MeterRevoke, ...base }, OPERATOR_ID)).body, { type: TxType.MeterRevoke, ...base });
  const opTx = (m: Map<unknown, unknown>) => signedPayload(m, encodeProtectedHeader(Alg.EdDSA, OPERATOR_ID));
  const regMap = (over: [number, unknown][]) => {
    const m = new Map<unknown, unknown>([[0, 2], [1, 'meter-p256-0003'], [3, 1], [7, -7], [8, pk]]);
    for (const [k, v] of over) m.set(k, v);
    return m;
  };
  rejects(() => decodeTx(opTx(regMap([[7, -35]]))), ReasonCode.SCHEMA, 'alg');
  rejects(() => decodeTx(opTx(regMap([[8, pk.subarray(1)]]))), ReasonCode.SCHEMA, 'publicKey');
  rejects(() => decodeTx(opTx(regMap([[8, Uint8Array.of(0x05, ...pk.subarray(1))]]))), ReasonCode.SCHEMA, 'publicKey'); // not a SEC1 prefix
  rejects(() => decodeTx(opTx(regMap([[7, -8]]))), ReasonCode.SCHEMA, 'publicKey'); // 33 bytes is not an Ed25519 key
  rejects(() => decodeTx(opTx(regMap([[2, 1]]))), ReasonCode.SCHEMA, 'payload'); // seq belongs to readings
  rejects(() => decodeTx(opTx(regMap([[9, 'x'.repeat(129)]]))), ReasonCode.SCHEMA, 'owner');
  const rotMap = new Map<unknown, unknown>([[0, 3], [1, 'meter-p256-0003'], [3, 1], [7, -7], [8, pk], [11, 0]]);
  rejects(() => decodeTx(opTx(rotMap)), ReasonCode.SCHEMA, 'keyEpoch');
  rotMap.delete(11);
  rejects(() => decodeTx(opTx(rotMap)), ReasonCode.SCHEMA, 'keyEpoch');
});

// With a small-order Ed25519 key (here the identity point) the signature R = identity,
// S = 0 verifies for ANY message under both noble and OpenSSL: such keys are refused.
test('RFC 8032 §5.1.7 small-order Ed25519 public keys are refused at registration', () => {
  const identity = fromHex(`01${'00'.repeat(31)}`);
  const forged = fromHex(`01${'00'.repeat(63)}`);
  assert.equal(ed25519.verify(forged, fromHex('00'), identity), true, "the forgery this guards against (noble's verify with its defaults)");
  assert.equal(nativeVerify(Alg.EdDSA, new KeyObjectCache().get(Alg.EdDSA, identity), fromHex('00'), forged), true, 'and OpenSSL');
  assert.equal(verifySignature(Alg.EdDSA, identity, fromHex('00'), forged), false, 'protocols/keys.ts refuses it as well');
  const m = new Map<unknown, unknown>([[0, 2], [1, 'meter-x'], [3, 1], [7, -8], [8, identity]]);
  rejects(() => decodeTx(signedPayload(m, encodeProtectedHeader(Alg.EdDSA, OPERATOR_ID))), ReasonCode.SCHEMA, 'publicKey');
});

test('a deep nest is E_READING_MALFORMED before decoding, in the envelope and in the payload, never a stack overflow', () => {
  // 5,000 arrays, one inside the next: 5 KB, under a chain that allows 16 KB, deeper than any
  // stack-bound decoder or encoder should be asked to go.
  const nest = (n: number): Uint8Array => new Uint8Array([...new Array<number>(n).fill(0x81), 0x00]);
  const inPayload = new Uint8Array([0xa1, 0x05, ...nest(5000)]); // {5: [[[...0...]]]}
  const prot = encodeProtectedHeader(Alg.EdDSA);
  const tx = encodeCoseSign1(prot, inPayload, signMessage(Alg.EdDSA, sk, sigStructure(prot, inPayload, CHAIN_ID)));
  for (const [bytes, what] of [[tx, 'payload'], [new Uint8Array([0xd2, ...nest(5000)]), 'envelope']] as const) {
    assert.throws(() => decodeTx(bytes, 16_384), (e: unknown) => {
      assert.ok(e instanceof RejectionError, `${what}: ${String(e)}`);
      assert.equal(e.code, ReasonCode.MALFORMED, `${what}: ${e.message}`);
      assert.match(e.message, /nested deeper than/, what);
      return true;
    });
  }
  // The deepest payload the vectors hold nests 5 containers; 15 still decodes to its schema check.
  const ok = new Uint8Array([0xa1, 0x05, ...nest(PAYLOAD_MAX_DEPTH - 2)]);
  assert.throws(() => decodeTx(encodeCoseSign1(prot, ok, signMessage(Alg.EdDSA, sk, sigStructure(prot, ok, CHAIN_ID)))),
    (e: unknown) => e instanceof RejectionError && e.code !== ReasonCode.MALFORMED);
});
