/**
 * docs/protocol.md §13 on the node: the rule of transaction type 20 (ledger-node/state/
 * valset.ts) through the registry every path uses (requiredSigner, applyTx). A change is
 * checked against the set in force at the including height, numbered in order, and
 * recorded in state in force from H + 2; the set of each height then follows from state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, type GenesisValidator, StateOverlay, type ValidatorSetTxBody, ValidatorSetOp, VALSET_TX_TYPE, approvalSignBytes, decodeAnyTx, encodeValidatorSetTxBody,
  publicKeyOf, scheduleFromState, sha256, signCoseSign1, signMessage, toHex, txSubjects, utf8,
} from '../../../protocols/index.js';
import { applyTx, requiredSigner } from '../../../ledger-node/state/rules.js';
import type { ChainParams } from '../../../ledger-node/state/meter.js';
import { everyMember, stateSets } from '../../../ledger-node/consensus/state-sets.js';

const CHAIN = 'valset-rule';
const secret = (label: string): Uint8Array => sha256(utf8(`valset-rule/${label}`));
const pub = (label: string): Uint8Array => publicKeyOf(Alg.EdDSA, secret(label));
const genesisSet: GenesisValidator[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, alg: 'Ed25519', power: 1, publicKey: toHex(pub(id)) }));
const chain: ChainParams = { seqWindow: 64, valset: { chainId: CHAIN, genesis: genesisSet } };

type Change = Omit<ValidatorSetTxBody, 'type' | 'time' | 'approvals' | 'possession'>;
/** `change` approved by `approvers` (ids; key labels default to the id), sealed by `by`. */
function changeTx(change: Change, approvers: readonly string[], by: string, opts: { keys?: Record<string, string>; possession?: string } = {}) {
  const msg = approvalSignBytes(CHAIN, change);
  const k = (id: string): string => opts.keys?.[id] ?? id;
  const body: ValidatorSetTxBody = {
    type: VALSET_TX_TYPE, time: 1_700_000_000_000, ...change,
    approvals: [...approvers].sort().map((id) => ({ validator: id, signature: signMessage(Alg.EdDSA, secret(k(id)), msg) })),
    ...(opts.possession ? { possession: signMessage(Alg.EdDSA, secret(opts.possession), msg) } : {}),
  };
  return decodeAnyTx(signCoseSign1(Alg.EdDSA, secret(k(by)), encodeValidatorSetTxBody(body), CHAIN, by));
}
const at = (height: number) => ({ height, time: 1_700_000_000_000 });
const code = (fn: () => unknown, want: string, says?: RegExp): void =>
  assert.throws(fn, (e: Error & { code?: string }) => e.code === want && (!says || says.test(e.message)), `want ${want}`);

test('§13.1: a type 20 transaction decodes through decodeAnyTx and is listed under the subject validator-set', () => {
  const tx = changeTx({ seq: 1, op: ValidatorSetOp.Power, validator: 'b', power: 3 }, ['a', 'b', 'c'], 'a');
  assert.equal(tx.body.type, VALSET_TX_TYPE);
  assert.deepEqual(txSubjects(tx.body), ['validator-set']);
});

test('§13.2-§13.4: an add approved by 3 of 4 at height 5 is recorded in force from height 7; its signer is the sealer\'s key in S(5)', () => {
  const state = new StateOverlay({ get: () => undefined });
  const tx = changeTx({ seq: 1, op: ValidatorSetOp.Add, validator: 'e', power: 1, publicKey: pub('e') }, ['a', 'b', 'c'], 'b', { possession: 'e' });
  assert.deepEqual(requiredSigner(state, new Map(), tx, { chain, height: 5 }), { alg: Alg.EdDSA, publicKey: pub('b') });
  state.apply(applyTx(state, tx, at(5), chain));
  const s = scheduleFromState(genesisSet, state);
  assert.deepEqual(s.at(6).map((v) => v.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(s.at(7).map((v) => v.id), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(s.changes, 1);

  // Change 2 in the same block: its approvals count with S(5) (e's does not yet), its number is 2.
  const early = changeTx({ seq: 2, op: ValidatorSetOp.Power, validator: 'a', power: 2 }, ['b', 'c', 'e'], 'b', { keys: { e: 'e' } });
  code(() => applyTx(state, early, at(5), chain), 'E_VALSET_APPROVAL', /"e", who is no validator at this height/);
  code(() => applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Power, validator: 'a', power: 2 }, ['a', 'b', 'c'], 'a'), at(5), chain), 'E_VALSET_SEQ');
  // At height 7 e is a member: 4 of 5 approve (b, c, d, e), > 2/3.
  const later = changeTx({ seq: 2, op: ValidatorSetOp.Remove, validator: 'a' }, ['b', 'c', 'd', 'e'], 'e');
  state.apply(applyTx(state, later, at(7), chain));
  const s2 = scheduleFromState(genesisSet, state);
  assert.deepEqual(s2.at(8).map((v) => v.id), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(s2.at(9).map((v) => v.id), ['b', 'c', 'd', 'e']);
  // From 9 a's approval and its sealing are refused.
  const byA = changeTx({ seq: 3, op: ValidatorSetOp.Power, validator: 'b', power: 2 }, ['a', 'b', 'c', 'd'], 'a');
  assert.equal(requiredSigner(state, new Map(), byA, { chain, height: 9 }), undefined);
  code(() => applyTx(state, byA, at(9), chain), 'E_VALSET_APPROVAL', /no validator at height 9/);
  assert.doesNotThrow(() => applyTx(state, byA, at(8), chain));
});

test('§13.2: approvals of 2 of 4, a sealer not among the approvers, a rotation sealed by another, a bad approval signature are E_VALSET_APPROVAL', () => {
  const state = new StateOverlay({ get: () => undefined });
  code(() => applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Remove, validator: 'd' }, ['a', 'b'], 'a'), at(3), chain), 'E_VALSET_APPROVAL', /hold 2 of 4/);
  code(() => applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Remove, validator: 'd' }, ['a', 'b', 'c'], 'd'), at(3), chain), 'E_VALSET_APPROVAL', /not one of its approvers/);
  const rot = { seq: 1, op: ValidatorSetOp.RotateKey, validator: 'a', publicKey: pub('a2') } as const;
  code(() => applyTx(state, changeTx(rot, ['a', 'b', 'c'], 'b', { possession: 'a2' }), at(3), chain), 'E_VALSET_APPROVAL', /submitted by a itself/);
  code(() => applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Remove, validator: 'd' }, ['a', 'b', 'c'], 'a', { keys: { c: 'x' } }), at(3), chain), 'E_VALSET_APPROVAL', /bad approval signature from "c"/);
  code(() => applyTx(state, changeTx({ ...rot }, ['a', 'b', 'c'], 'a', { possession: 'zz' }), at(3), chain), 'E_VALSET_APPROVAL', /possession/);
  // A rotation sealed by a with its current key applies; from height 5 a signs with a2.
  const ok = changeTx(rot, ['a', 'b', 'c'], 'a', { possession: 'a2' });
  state.apply(applyTx(state, ok, at(3), chain));
  const next = changeTx({ seq: 2, op: ValidatorSetOp.Power, validator: 'b', power: 2 }, ['a', 'b', 'c'], 'a', { keys: { a: 'a2' } });
  assert.deepEqual(requiredSigner(state, new Map(), next, { chain, height: 5 })?.publicKey, pub('a2'));
  assert.deepEqual(requiredSigner(state, new Map(), next, { chain, height: 4 })?.publicKey, pub('a'));
  state.apply(applyTx(state, next, at(5), chain));
});

test('§13.3: a change that cannot apply is E_VALSET_INVALID; a node without the validator set\'s context refuses type 20 (E_READING_SCHEMA)', () => {
  const state = new StateOverlay({ get: () => undefined });
  code(() => applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Remove, validator: 'zz' }, ['a', 'b', 'c'], 'a'), at(3), chain), 'E_VALSET_INVALID');
  const tx = changeTx({ seq: 1, op: ValidatorSetOp.Remove, validator: 'd' }, ['a', 'b', 'c'], 'a');
  code(() => applyTx(state, tx, at(3), { seqWindow: 64 }), 'E_READING_SCHEMA', /no rule on this node/);
  assert.equal(requiredSigner(state, new Map(), tx), undefined);
});

test('§13.4: the ValidatorSets port over committed state knows S(h) up to head + 2, and the peer keys include every member ever added', () => {
  const state = new StateOverlay({ get: () => undefined });
  let head = 5;
  const sets = stateSets(genesisSet, state, () => head);
  assert.deepEqual(sets(7)?.map((v) => v.id), ['a', 'b', 'c', 'd']);
  assert.equal(sets(8), undefined);
  state.apply(applyTx(state, changeTx({ seq: 1, op: ValidatorSetOp.Add, validator: 'e', power: 2, publicKey: pub('e') }, ['a', 'b', 'c'], 'a', { possession: 'e' }), at(5), chain));
  assert.deepEqual(sets(6)?.map((v) => v.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(sets(7)?.map((v) => [v.id, v.power, v.publicKey]).at(-1), ['e', 2, toHex(pub('e'))]);
  assert.equal(sets(7), sets(7), 'the same array while the record does not change');
  head = 6;
  assert.equal(sets(8)?.length, 5);
  assert.deepEqual([...everyMember(genesisSet, state).keys()], ['a', 'b', 'c', 'd', 'e']);
});
