import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedMap } from '../../../protocols/index.js';

test('BoundedMap: a new key in a full map forgets the oldest; setting a held key forgets nothing', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1).set('b', 2);
  m.set('a', 10);
  assert.deepEqual([...m], [['a', 10], ['b', 2]]);
  m.set('c', 3);
  assert.deepEqual([...m], [['b', 2], ['c', 3]]);
});

test('BoundedMap.touch makes an entry the newest, so it outlives those set after it was', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1).set('b', 2);
  m.touch('a', 11);
  m.set('c', 3);
  assert.deepEqual([...m], [['a', 11], ['c', 3]]);
});

test('BoundedMap refuses a bound below 1', () => {
  assert.throws(() => new BoundedMap(0), RangeError);
  assert.throws(() => new BoundedMap(1.5), RangeError);
});
