/** The node's state (ledger-node/state/): two layers over records keyed by (kind, id), and the transaction type registry. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { StateKind, TxType, decodeAnyTx, decodeTx } from '../../../protocols/index.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import { type MeterRecord, genesisMeters, operatorsOf } from '../../../ledger-node/state/meter.js';
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
  assert.equal(requiredSigner(s, operatorsOf(c.genesis), tx).publicKey, (s.get('meter', a) as MeterRecord).publicKey);
  s.accept(changes);
  assert.throws(() => applyTx(s, tx, { height: 1, time: Date.now() }, { seqWindow: 256 }), /E_READING_SEQ_REPLAY/);
  assert.deepEqual(Object.keys(txRules).map(Number), [TxType.Reading, TxType.MeterRegister, TxType.MeterRotate, TxType.MeterRevoke]);
});

test('the registry: a transaction type with no rule on this node is refused with E_READING_SCHEMA, naming the type', () => {
  const c = makeTestChain({ meters: 1 });
  chains.push(c);
  const tx = decodeAnyTx(c.operatorTx({ type: TxType.AccountOpen, account: 'acc-1', alg: c.operatorKey.alg, publicKey: c.operatorKey.publicKey, time: 0 }));
  const s = new ChainState(genesisMeters(c.genesis));
  assert.throws(() => requiredSigner(s, operatorsOf(c.genesis), tx), /E_READING_SCHEMA: transaction type 6 has no rule on this node/);
  assert.throws(() => applyTx(s, tx, { height: 1, time: 0 }, { seqWindow: 256 }), /E_READING_SCHEMA: transaction type 6 has no rule on this node/);
});
