import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TendermintCore, signedKey } from '../../../ledger-node/consensus/core.js';
import { proposerOf } from '../../../ledger-node/consensus/proposer.js';
import { type ConsensusMessage, type Effect, Step } from '../../../ledger-node/consensus/types.js';

const app = {
  id: (v: string) => v,
  propose: (h: number) => `block-${h}`,
  valid: (_h: number, v: string) => !v.startsWith('bad'),
};
const four = ['a', 'b', 'c', 'd'].map((id) => ({ id, power: 1 }));
const broadcasts = (fx: Effect<string>[]) => fx.filter((e) => e.type === 'broadcast').map((e) => (e as { msg: ConsensusMessage<string> }).msg);

test('one validator commits alone: propose, prevote, precommit, decide in one step', () => {
  const core = new TendermintCore<string>({ validators: [{ id: 'solo', power: 1 }], me: 'solo', app, height: 1 });
  const fx = core.handle({ type: 'start' });
  assert.deepEqual(broadcasts(fx).map((m) => m.type), ['proposal', 'prevote', 'precommit']);
  const d = fx.find((e) => e.type === 'decide');
  assert.ok(d && d.type === 'decide' && d.value === 'block-1' && d.precommits.length === 1);
  const next = core.nextHeight();
  assert.ok(next.some((e) => e.type === 'decide' && e.height === 2));
});

test('proposers rotate by voting power', () => {
  const weighted = [{ id: 'x', power: 3 }, { id: 'y', power: 1 }];
  const counts = new Map<string, number>();
  for (let h = 1; h <= 400; h++) counts.set(proposerOf(weighted, h, 0), (counts.get(proposerOf(weighted, h, 0)) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { x: 300, y: 100 });
  assert.notEqual(proposerOf(four, 1, 0), proposerOf(four, 1, 1));
});

test('Alg. 1 line 22-25: an invalid proposal gets a nil prevote', () => {
  const proposer = proposerOf(four, 1, 0);
  const me = four.find((v) => v.id !== proposer)!.id;
  const core = new TendermintCore<string>({ validators: four, me, app, height: 1 });
  core.handle({ type: 'start' });
  const fx = core.handle({ type: 'proposal', from: proposer, height: 1, round: 0, value: 'bad-1', valueId: 'bad-1', validRound: -1 });
  assert.deepEqual(broadcasts(fx), [{ type: 'prevote', from: me, height: 1, round: 0, valueId: null }]);
  assert.equal(core.step, Step.Prevote);
});

test('a proposal from a validator that is not the round\'s proposer is ignored', () => {
  const proposer = proposerOf(four, 1, 0);
  const others = four.filter((v) => v.id !== proposer);
  const core = new TendermintCore<string>({ validators: four, me: others[0]!.id, app, height: 1 });
  core.handle({ type: 'start' });
  const fx = core.handle({ type: 'proposal', from: others[1]!.id, height: 1, round: 0, value: 'x', valueId: 'x', validRound: -1 });
  assert.deepEqual(broadcasts(fx), []);
});

test('double votes are reported as evidence', () => {
  const core = new TendermintCore<string>({ validators: four, me: 'a', app, height: 1 });
  core.handle({ type: 'start' });
  core.handle({ type: 'prevote', from: 'b', height: 1, round: 0, valueId: 'x' });
  const fx = core.handle({ type: 'prevote', from: 'b', height: 1, round: 0, valueId: 'y' });
  assert.ok(fx.some((e) => e.type === 'evidence'));
});

test('after a restart a validator re-sends what it signed, never a different vote', () => {
  const proposer = proposerOf(four, 1, 0);
  const me = four.find((v) => v.id !== proposer)!.id;
  const signed = new Map<string, ConsensusMessage<string>>();
  const first = new TendermintCore<string>({ validators: four, me, app, height: 1 });
  first.handle({ type: 'start' });
  for (const m of broadcasts(first.handle({ type: 'proposal', from: proposer, height: 1, round: 0, value: 'v', valueId: 'v', validRound: -1 }))) signed.set(signedKey(m), m);
  // Restarted: the proposal never arrives again, the propose timeout fires. Fresh state would
  // prevote nil; the signed record makes it send its prevote for 'v' again instead.
  const again = new TendermintCore<string>({ validators: four, me, app, height: 1, signed });
  again.handle({ type: 'start' });
  const fx = again.handle({ type: 'timeout', step: Step.Propose, height: 1, round: 0 });
  assert.deepEqual(broadcasts(fx), [{ type: 'prevote', from: me, height: 1, round: 0, valueId: 'v' }]);
});

test('an observer follows decisions without voting', () => {
  const core = new TendermintCore<string>({ validators: four, me: undefined, app, height: 1 });
  core.handle({ type: 'start' });
  const p = proposerOf(four, 1, 0);
  core.handle({ type: 'proposal', from: p, height: 1, round: 0, value: 'v', valueId: 'v', validRound: -1 });
  let decided = false;
  for (const id of ['a', 'b', 'c']) {
    const fx = core.handle({ type: 'precommit', from: id, height: 1, round: 0, valueId: 'v' });
    assert.deepEqual(broadcasts(fx), []);
    decided ||= fx.some((e) => e.type === 'decide');
  }
  assert.ok(decided);
});
