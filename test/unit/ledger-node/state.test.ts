/** The node's state (ledger-node/state/): two layers over records keyed by (kind, id), and the transaction type registry. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type OperatorRole, PERIOD_KEY_TX_TYPE, StateKind, TxType, decodeAnyTx, decodeTx } from '../../../protocols/index.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import { type MeterRecord, type Operators, genesisMeters, operatorsOf } from '../../../ledger-node/state/meter.js';
import { applyTx, requiredSigner, txRules } from '../../../ledger-node/state/rules.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';

const chains: TestChain[] = [];
after(() => {
  for (const c of chains) c.cleanup();
});

test('ChainState: the tip lies over the committed layer; a deletion in the tip hides a committed record; resetTip replays what waits', () => {
  const s = new ChainState([{ kind: StateKind.Account, id: 'a', value: { balance: 1n } }, { kind: StateKind.Tariff, id: 't', value: { v: 1 } }]);
  s.accept([{ kind: StateKind.Account, id: 'a', value: { balance: 2n } }, { kind: StateKind.Tariff, id: 't', value: null }, { kind: StateKind.Account, id: 'b', value: { balance: 0n } }]);
  assert.deepEqual(s.get(StateKind.Account, 'a'), { balance: 2n });
  assert.deepEqual(s.committed.get(StateKind.Account, 'a'), { balance: 1n });
  assert.equal(s.get(StateKind.Tariff, 't'), undefined);
  assert.deepEqual(s.committed.get(StateKind.Tariff, 't'), { v: 1 });
  assert.deepEqual(s.ids(StateKind.Account), ['a', 'b']);
  assert.deepEqual(s.ids(StateKind.Tariff), []);
  s.commit([{ kind: StateKind.Tariff, id: 't', value: null }]);
  s.resetTip((accept) => accept([{ kind: StateKind.Account, id: 'b', value: { balance: 5n } }]));
  assert.deepEqual(s.get(StateKind.Account, 'a'), { balance: 1n }, 'the tip was rebuilt from what still waits');
  assert.deepEqual(s.get(StateKind.Account, 'b'), { balance: 5n });
  assert.equal(s.committed.get(StateKind.Tariff, 't'), undefined);
  assert.deepEqual(s.kinds(), ['account', 'tariff']);
});

test('the registry: meter rules return state changes of kind meter and read the state view they are given', () => {
  const c = makeTestChain({ meters: 1 });
  chains.push(c);
  const [a] = c.meterIds as [string];
  const s = new ChainState(genesisMeters(c.genesis));
  const tx = decodeTx(c.reading(a, 3));
  const changes = applyTx(s, tx, { height: 1, time: Date.now() }, { seqWindow: 256 });
  assert.deepEqual(changes.map((x) => [x.kind, x.id, (x.value as MeterRecord).lastSeq]), [['meter', a, 3n]]);
  assert.equal(requiredSigner(s, operatorsOf(c.genesis), tx)?.publicKey, (s.get('meter', a) as MeterRecord).publicKey);
  s.accept(changes);
  assert.throws(() => applyTx(s, tx, { height: 1, time: Date.now() }, { seqWindow: 256 }), { code: 'E_READING_SEQ_REPLAY' });
  assert.deepEqual(Object.keys(txRules).map(Number), [TxType.Reading, TxType.MeterRegister, TxType.MeterRotate, TxType.MeterRevoke, PERIOD_KEY_TX_TYPE, ...Array.from({ length: 14 }, (_, i) => 6 + i), 20]);
});

test('the registry: a ledger transaction on a node without the ledger context is refused with E_READING_SCHEMA, naming the type', () => {
  const c = makeTestChain({ meters: 1 });
  chains.push(c);
  const tx = decodeAnyTx(c.operatorTx({ type: TxType.AccountOpen, account: 'acc-1', alg: c.operatorKey.alg, publicKey: c.operatorKey.publicKey, time: 0 }));
  const s = new ChainState(genesisMeters(c.genesis));
  // The signer is found (an operator without roles is a registrar), the rule is not there.
  assert.deepEqual(requiredSigner(s, operatorsOf(c.genesis), tx)?.publicKey, c.operatorKey.publicKey);
  assert.throws(() => applyTx(s, tx, { height: 1, time: 0 }, { seqWindow: 256 }), { code: 'E_READING_SCHEMA', message: /^transaction type 6 has no rule on this node/ });
});

test('the registry: meter transactions 2-4 are a registrar\'s; an operator without roles in genesis is one (docs/billing.md §13.3)', () => {
  const c = makeTestChain({ meters: 1 });
  chains.push(c);
  const pub = c.operatorKey.publicKey;
  const op = c.genesis.operators[0]!;
  const as = (roles: OperatorRole[] | undefined): Operators => operatorsOf({ ...c.genesis, operators: [{ ...op, ...(roles ? { roles } : {}) }] });
  const s = new ChainState(genesisMeters(c.genesis));
  for (const body of [
    { type: TxType.MeterRegister, meterId: 'new-1', alg: c.operatorKey.alg, publicKey: pub, time: 1 } as const,
    { type: TxType.MeterRotate, meterId: c.meterIds[0]!, alg: c.operatorKey.alg, publicKey: pub, keyEpoch: 1, time: 1 } as const,
    { type: TxType.MeterRevoke, meterId: c.meterIds[0]!, time: 1 } as const,
  ]) {
    const tx = decodeAnyTx(c.operatorTx(body));
    assert.deepEqual(requiredSigner(s, as(undefined), tx)?.publicKey, pub, `type ${body.type}, no roles`);
    assert.deepEqual(requiredSigner(s, as(['custodian', 'registrar']), tx)?.publicKey, pub, `type ${body.type}, registrar`);
    assert.throws(() => requiredSigner(s, as(['biller', 'custodian']), tx), { code: 'E_TX_ROLE', message: /^operator ".*" is not a registrar \(roles: biller, custodian\)/ }, `type ${body.type}`);
  }
});
