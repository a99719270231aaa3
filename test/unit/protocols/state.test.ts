/** The state overlay a block's rules see: later transactions see earlier ones' changes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateOverlay, type StateReader } from '../../../protocols/index.js';

const base: StateReader = { get: (kind, id) => (kind === 'meter' && id === 'm1' ? { lastSeq: 1n } : undefined) };

test('an overlay reads through to the base until a change covers the record', () => {
  const o = new StateOverlay(base);
  assert.deepEqual(o.get('meter', 'm1'), { lastSeq: 1n });
  o.apply([{ kind: 'meter', id: 'm1', value: { lastSeq: 2n } }, { kind: 'account', id: 'a', value: { balance: 5n } }]);
  assert.deepEqual(o.get('meter', 'm1'), { lastSeq: 2n });
  assert.deepEqual(o.get('account', 'a'), { balance: 5n });
  assert.deepEqual(base.get('meter', 'm1'), { lastSeq: 1n }, 'the base is not written');
});

test('a null value deletes, the list holds one change per record in first-changed order', () => {
  const o = new StateOverlay(base);
  o.apply([{ kind: 'meter', id: 'm1', value: null }, { kind: 'account', id: 'a', value: 1 }]);
  o.apply([{ kind: 'account', id: 'a', value: 2 }]);
  assert.equal(o.get('meter', 'm1'), undefined);
  assert.deepEqual(o.list(), [{ kind: 'meter', id: 'm1', value: null }, { kind: 'account', id: 'a', value: 2 }]);
});

test('kind and id cannot run into each other', () => {
  const o = new StateOverlay({ get: () => undefined });
  o.apply([{ kind: 'a', id: 'b\u0000c', value: 1 }]);
  assert.equal(o.get('a\u0000b', 'c'), undefined);
  assert.equal(o.get('ab', 'c'), undefined);
  assert.equal(o.get('a', 'b\u0000c'), 1);
});
