/**
 * The audit's money checks (ledger-node/audit-money.ts) on states the rules would never
 * make: a bill paid twice, a payment above its mandate's caps, balances that do not add
 * up to deposits minus withdrawals, a negative balance. Each is found with its code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProofCode, type StateChange, StateKind } from '../../../protocols/index.js';
import { MoneyAudit } from '../../../ledger-node/audit-money.js';
import { ChainState } from '../../../ledger-node/state/layers.js';

const bill = { biller: 'biller', payee: 'utility', account: 'john', start: 0, end: 1, total: 500n, credited: 0n, height: 3 };
const mandate = { meters: ['m-1'], capPerBill: 1000n, capPerMonth: 1000n, expires: 9e12, autopay: false, time: 1, revoked: false, month: '2026-02', spent: 500n };
const payment = (by: string, amount = 500n): StateChange => ({ kind: StateKind.Payment, id: 'm-1/2026-01', value: { account: 'john', payee: 'utility', amount, by, height: 5 } });
const state = (changes: StateChange[]): ChainState => {
  const s = new ChainState([]);
  s.commit(changes);
  return s;
};

test('a payment of a bill paid already is E_AUDIT_PAYMENT; one that is not the bill\'s total too', () => {
  const before = state([{ kind: StateKind.Bill, id: 'm-1/2026-01', value: bill }, payment('owner')]);
  assert.equal(new MoneyAudit().block(before.committed, [], [payment('owner')])?.code, ProofCode.AUDIT_PAYMENT);
  const unpaid = state([{ kind: StateKind.Bill, id: 'm-1/2026-01', value: bill }]);
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [payment('owner')]), undefined);
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [payment('owner', 499n)])?.code, ProofCode.AUDIT_PAYMENT);
});

test('a meter\'s payment above the mandate\'s cap per bill or per month is E_AUDIT_CAP', () => {
  const unpaid = state([{ kind: StateKind.Bill, id: 'm-1/2026-01', value: bill }]);
  const m = (over: object): StateChange => ({ kind: StateKind.Mandate, id: 'john/utility', value: { ...mandate, ...over } });
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [m({}), payment('meter')]), undefined);
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [m({ capPerBill: 499n }), payment('meter')])?.code, ProofCode.AUDIT_CAP);
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [m({ spent: 1001n }), payment('meter')])?.code, ProofCode.AUDIT_CAP);
  assert.equal(new MoneyAudit().block(unpaid.committed, [], [payment('autopay')])?.code, ProofCode.AUDIT_CAP, 'no mandate spending recorded');
});

test('balances that are not deposits minus withdrawals are E_AUDIT_CONSERVATION; a negative one E_AUDIT_BALANCE', () => {
  const acc = (id: string, balance: bigint): StateChange => ({ kind: StateKind.Account, id, value: { alg: -8, publicKey: new Uint8Array(32), keyEpoch: 0, balance } });
  const dep: StateChange = { kind: StateKind.Transfer, id: 'bank/r1', value: { kind: 'deposit', account: 'john', amount: 1000n, height: 1 } };
  const wd: StateChange = { kind: StateKind.Transfer, id: 'bank/r2', value: { kind: 'withdrawal', account: 'john', amount: 100n, height: 2 } };
  const ok = new MoneyAudit().final(state([acc('john', 400n), acc('utility', 500n), dep, wd]));
  assert.ok(!('code' in ok) && ok.summary?.includes('2 accounts holding 900 = deposits 1000 - withdrawals 100'), JSON.stringify(ok));
  assert.equal((new MoneyAudit().final(state([acc('john', 401n), acc('utility', 500n), dep, wd])) as { code?: string }).code, ProofCode.AUDIT_CONSERVATION);
  assert.equal((new MoneyAudit().final(state([acc('john', -1n), acc('utility', 901n), dep, wd])) as { code?: string }).code, ProofCode.AUDIT_BALANCE);
});
