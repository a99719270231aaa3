/**
 * docs/protocol.md §13: validator-set changes (type 20) and receipts across them, from
 * test/vectors/validator-set.json: the chain of changes followed from genesis proves the
 * set of each height; a change left out, an approval short of 2/3, a rotation not approved
 * by the old key, a new key without possession and a commit by a removed or rotated-away
 * key are refused. Then the rules of §13.3 one by one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, type GenesisValidator, ValidatorSchedule, ValidatorSetOp, VALSET_DELAY, applySetChange, decodeReceipt, decodeSetChanges, decodePayloadMap,
  decodeValidatorSetTxBody, encodeValidatorSetTxBody, fromHex, parseGenesis, publicKeyOf, sha256, utf8, verifyReceipt, verifyReceiptWithSetChanges,
} from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';

interface Vec {
  genesis: unknown;
  setChanges: string;
  receipt: string;
  verifies: { height: number; validators: { id: string; power: number; publicKey: string }[] };
  refused: { name: string; receipt: string; setChanges: string; error: string; reason: string }[];
}
const vec = readVector<Vec>('validator-set.json');
const genesis = parseGenesis(vec.genesis);

test('§13.5: a receipt after three set changes verifies from genesis with the chain of changes, against the set of its height', () => {
  const r = verifyReceiptWithSetChanges(genesis, decodeReceipt(fromHex(vec.receipt)), decodeSetChanges(fromHex(vec.setChanges)));
  assert.equal(r.height, vec.verifies.height);
  assert.deepEqual(r.validators.map((v) => ({ id: v.id, power: v.power, publicKey: v.publicKey })), vec.verifies.validators);
});

for (const c of vec.refused) {
  test(`§13.5 refuses: ${c.name}`, () => {
    assert.throws(() => verifyReceiptWithSetChanges(genesis, decodeReceipt(fromHex(c.receipt)), decodeSetChanges(fromHex(c.setChanges))), (e: Error & { code?: string }) => {
      assert.equal(e.code, c.error);
      assert.ok(e.message.includes(c.reason), `${e.message} should say ${c.reason}`);
      return true;
    });
  });
}

test('§7 verifyReceipt alone (the genesis set) refuses the receipt of height 7', () => {
  assert.throws(() => verifyReceipt(genesis, decodeReceipt(fromHex(vec.receipt))), /unknown validator "val-5"/);
});

const key = (label: string): Uint8Array => publicKeyOf(Alg.EdDSA, sha256(utf8(label)));
const set: GenesisValidator[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, alg: 'Ed25519', power: 1, publicKey: Buffer.from(key(id)).toString('hex') }));
const code = (fn: () => unknown, want: string): void => assert.throws(fn, (e: Error & { code?: string }) => e.code === want);

test('§13.3: an add of an id or a key already in the set, and a change of an unknown validator, are E_VALSET_INVALID', () => {
  code(() => applySetChange(set, { seq: 1, op: ValidatorSetOp.Add, validator: 'a', power: 1, publicKey: key('z') }), 'E_VALSET_INVALID');
  code(() => applySetChange(set, { seq: 1, op: ValidatorSetOp.Add, validator: 'z', power: 1, publicKey: key('b') }), 'E_VALSET_INVALID');
  code(() => applySetChange(set, { seq: 1, op: ValidatorSetOp.RotateKey, validator: 'a', publicKey: key('c') }), 'E_VALSET_INVALID');
  for (const op of [ValidatorSetOp.Remove, ValidatorSetOp.Power]) code(() => applySetChange(set, { seq: 1, op, validator: 'z', power: 2 }), 'E_VALSET_INVALID');
  code(() => applySetChange(set, { seq: 1, op: ValidatorSetOp.Power, validator: 'a', power: 1 }), 'E_VALSET_INVALID');
  code(() => applySetChange(set.slice(0, 1), { seq: 1, op: ValidatorSetOp.Remove, validator: 'a' }), 'E_VALSET_INVALID');
  code(() => applySetChange(set, { seq: 1, op: ValidatorSetOp.Add, validator: 'z', power: 2 ** 50, publicKey: key('z') }), 'E_VALSET_INVALID');
  assert.deepEqual(applySetChange(set, { seq: 1, op: ValidatorSetOp.Power, validator: 'b', power: 5 }).map((v) => v.power), [1, 5, 1, 1]);
});

test('§13.1: the payload round-trips; labels of another op and unsorted approvals are E_READING_SCHEMA', () => {
  const body = {
    type: 20 as const, time: 5, seq: 1, op: ValidatorSetOp.Power, validator: 'b', power: 3,
    approvals: [{ validator: 'a', signature: new Uint8Array(64) }, { validator: 'b', signature: new Uint8Array(64).fill(1) }],
  };
  const bytes = encodeValidatorSetTxBody(body);
  assert.deepEqual(decodeValidatorSetTxBody(decodePayloadMap(bytes)), body);
  const m = decodePayloadMap(bytes);
  code(() => decodeValidatorSetTxBody(new Map(m).set(8, new Uint8Array(32))), 'E_READING_SCHEMA');
  code(() => decodeValidatorSetTxBody(new Map(m).set(16, [['b', new Uint8Array(64)], ['a', new Uint8Array(64)]])), 'E_READING_SCHEMA');
  code(() => decodeValidatorSetTxBody(new Map(m).set(16, [])), 'E_READING_SCHEMA');
});

test(`the schedule: a change included at H is in force from H + ${VALSET_DELAY}; the next change applies on top of a pending one`, () => {
  const s = new ValidatorSchedule(set);
  const one = applySetChange(s.latest, { seq: 1, op: ValidatorSetOp.Power, validator: 'a', power: 2 });
  s.push(10, one);
  const two = applySetChange(s.latest, { seq: 2, op: ValidatorSetOp.Remove, validator: 'd' });
  s.push(11, two);
  assert.equal(s.at(11), set);
  assert.equal(s.at(12), one);
  assert.deepEqual(s.at(13).map((v) => `${v.id}${v.power}`), ['a2', 'b1', 'c1']);
  assert.equal(s.changes, 2);
});
