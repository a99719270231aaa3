import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, editDistance } from '../../../gateway/suggest.js';

test('editDistance: insertions, deletions, substitutions and adjacent swaps cost 1', () => {
  assert.equal(editDistance('simulate', 'simulate'), 0);
  assert.equal(editDistance('simlate', 'simulate'), 1);
  assert.equal(editDistance('verfiy', 'verify'), 1);
  assert.equal(editDistance('START', 'start'), 0);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closest: the nearest word if it is near enough to be a typo', () => {
  const commands = ['init', 'start', 'testnet', 'simulate', 'simulate-xmpp', 'meter', 'verify', 'receipt', 'config'];
  assert.equal(closest('simlate', commands), 'simulate');
  assert.equal(closest('meters', commands), 'meter');
  assert.equal(closest('strat', commands), 'start');
  assert.equal(closest('frobnicate', commands), undefined);
  assert.equal(closest('x', commands), undefined);
});
