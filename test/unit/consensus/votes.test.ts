/** The vote keeper reports each threshold of Algorithm 1 once, at the vote that crosses it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Threshold, VoteKeeper } from '../../../ledger-node/consensus/votes.js';

const four = ['a', 'b', 'c', 'd'].map((id) => ({ id, power: 1 }));
const kinds = (ts: readonly Threshold[]) => ts.map((t) => `${t.kind}${'valueId' in t ? `:${t.valueId}` : ''}@${t.round}`);

test('2f+1 prevotes: prevote-any and the polka once, at the third; never again for a fourth or a duplicate', () => {
  const k = new VoteKeeper(four);
  const add = (from: string, valueId: string | null) => kinds(k.addVote({ type: 'prevote', from, height: 1, round: 0, valueId }).crossed);
  assert.deepEqual(add('a', 'v'), []);
  assert.deepEqual(add('b', 'v'), ['skip@0']); // two of four: more than a third has spoken in round 0
  assert.deepEqual(add('c', 'v'), ['prevote-any@0', 'polka:v@0']);
  assert.deepEqual(add('c', 'v'), [], 'a duplicate');
  assert.deepEqual(add('d', 'v'), []);
  assert.equal(k.polka(0, 'v'), true);
  assert.equal(k.prevoteNil(0), false);
});

test('mixed prevotes reach prevote-any without a polka; nil has its own threshold', () => {
  const k = new VoteKeeper(four);
  const add = (from: string, valueId: string | null) => kinds(k.addVote({ type: 'prevote', from, height: 1, round: 2, valueId }).crossed);
  add('a', null);
  add('b', 'v');
  assert.deepEqual(add('c', null), ['prevote-any@2']);
  assert.deepEqual(add('d', null), ['prevote-nil@2']);
});

test('precommits: precommit-any and the commit once; an equivocator is counted for both of its values and reported', () => {
  const k = new VoteKeeper(four);
  const add = (from: string, valueId: string | null) => k.addVote({ type: 'precommit', from, height: 1, round: 1, valueId });
  add('a', 'v');
  add('b', 'v');
  const third = add('c', 'w');
  assert.deepEqual(kinds(third.crossed), ['precommit-any@1']);
  const again = add('c', 'v'); // c signs a second precommit
  assert.ok(typeof again.result === 'object' && again.result.conflict.valueId === 'w');
  assert.deepEqual(kinds(again.crossed), ['commit:v@1']);
  assert.deepEqual(k.commits(), [{ round: 1, valueId: 'v' }]);
});

test('skip: more than a third of the power heard in a round, proposals included, once', () => {
  const k = new VoteKeeper([{ id: 'a', power: 2 }, { id: 'b', power: 1 }, { id: 'c', power: 1 }, { id: 'd', power: 1 }]);
  assert.deepEqual(kinds(k.heard(5, 'b')), []); // 1 of 5
  assert.deepEqual(kinds(k.heard(5, 'b')), [], 'the same sender again');
  assert.deepEqual(kinds(k.heard(5, 'c')), ['skip@5']); // 2 of 5
  assert.deepEqual(kinds(k.heard(5, 'a')), []);
  assert.deepEqual(kinds(k.heard(6, 'x')), [], 'not a validator');
  assert.equal(k.highestSkip(), 5);
});
