import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TendermintCore, restoreProblem, signedKey } from '../../../ledger-node/consensus/core.js';
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
  // The next height is a new core (the runner's), deciding at once too.
  const next = new TendermintCore<string>({ validators: [{ id: 'solo', power: 1 }], me: 'solo', app, height: 2 }).handle({ type: 'start' });
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

// ---- crash recovery (issue 17): the safety state is persisted before what depends on it leaves

/** Round 0 of height 1 for `me`: proposal 'v', a polka for it, so `me` locks on it and precommits it. */
function lockOnV(me: string) {
  const proposer = proposerOf(four, 1, 0);
  const core = new TendermintCore<string>({ validators: four, me, app, height: 1 });
  const fx = [...core.handle({ type: 'start' })];
  fx.push(...core.handle({ type: 'proposal', from: proposer, height: 1, round: 0, value: 'v', valueId: 'v', validRound: -1 }));
  for (const id of four.map((v) => v.id).filter((id) => id !== me)) fx.push(...core.handle({ type: 'prevote', from: id, height: 1, round: 0, valueId: 'v' }));
  const persisted = fx.filter((e): e is Extract<Effect<string>, { type: 'persist' }> => e.type === 'persist');
  const signed = new Map(broadcasts(fx).map((m) => [signedKey(m), m]));
  return { fx, state: persisted.at(-1)!.state, signed };
}

test('the lock and valid value are persisted before the precommit that depends on them leaves (Alg. 1 lines 36-43)', () => {
  const me = four.find((v) => v.id !== proposerOf(four, 1, 0))!.id;
  const { fx, state } = lockOnV(me);
  const kinds = fx.filter((e) => e.type === 'persist' || e.type === 'broadcast').map((e) => (e.type === 'persist' ? `persist:${e.state.step}` : `send:${e.msg.type}`));
  // The first message of the height is preceded by a record; each step change too.
  assert.deepEqual(kinds, [`persist:${Step.Prevote}`, 'send:prevote', `persist:${Step.Precommit}`, 'send:precommit']);
  assert.deepEqual({ round: state.round, step: state.step, locked: state.locked?.round, lockedId: state.locked?.valueId, valid: state.valid?.round }, { round: 0, step: Step.Precommit, locked: 0, lockedId: 'v', valid: 0 });
  assert.equal(state.valid!.polka.length, 3, 'the polka (3 of 4 prevotes, when it formed) is kept with the valid value');
});

test('restored after a crash, a locked validator prevotes nil for another block in a later round (line 23), never for it', () => {
  const me = four.find((v) => v.id !== proposerOf(four, 1, 0) && v.id !== proposerOf(four, 1, 1))!.id;
  const { state, signed } = lockOnV(me);
  const core = new TendermintCore<string>({ validators: four, me, app, height: 1, signed, restored: state });
  core.handle({ type: 'start' });
  assert.equal(core.round, 0);
  core.handle({ type: 'timeout', step: Step.Precommit, height: 1, round: 0 }); // on to round 1
  const fx = core.handle({ type: 'proposal', from: proposerOf(four, 1, 1), height: 1, round: 1, value: 'w', valueId: 'w', validRound: -1 });
  assert.deepEqual(broadcasts(fx).filter((m) => m.type === 'prevote'), [{ type: 'prevote', from: me, height: 1, round: 1, valueId: null }]);
  // What today's code did: a core built from the signed messages alone forgets the lock.
  const amnesic = new TendermintCore<string>({ validators: four, me, app, height: 1, signed });
  amnesic.handle({ type: 'start' });
  amnesic.handle({ type: 'timeout', step: Step.Propose, height: 1, round: 0 });
  for (const id of four.map((v) => v.id)) amnesic.handle({ type: 'precommit', from: id, height: 1, round: 0, valueId: null });
  amnesic.handle({ type: 'timeout', step: Step.Precommit, height: 1, round: 0 });
  const bad = amnesic.handle({ type: 'proposal', from: proposerOf(four, 1, 1), height: 1, round: 1, value: 'w', valueId: 'w', validRound: -1 });
  assert.deepEqual(broadcasts(bad).filter((m) => m.type === 'prevote').map((m) => m.valueId), ['w'], 'the amnesic core would prevote the other block');
});

test('restored as the next proposer, a validator proposes its valid value again with its valid round (lines 14-17), and its polka lets a peer accept it (line 28)', () => {
  const next = proposerOf(four, 1, 1);
  const { state, signed } = lockOnV(next);
  const core = new TendermintCore<string>({ validators: four, me: next, app, height: 1, signed, restored: state });
  core.handle({ type: 'start' });
  const fx = core.handle({ type: 'timeout', step: Step.Precommit, height: 1, round: 0 });
  const proposal = broadcasts(fx).find((m) => m.type === 'proposal');
  assert.deepEqual(proposal && { value: proposal.type === 'proposal' && proposal.value, validRound: proposal.type === 'proposal' && proposal.validRound }, { value: 'v', validRound: 0 });
  // A peer that missed round 0 prevotes it once it holds the polka the proposer re-gossips.
  const peer = four.find((v) => v.id !== next && v.id !== proposerOf(four, 1, 0))!.id;
  const fresh = new TendermintCore<string>({ validators: four, me: peer, app, height: 1 });
  fresh.handle({ type: 'start' });
  for (const v of core.polkaMessages()) fresh.handle(v);
  fresh.handle({ type: 'prevote', from: next, height: 1, round: 1, valueId: 'v' }); // f+1 in round 1: skip to it (line 55)
  fresh.handle({ type: 'prevote', from: proposerOf(four, 1, 0), height: 1, round: 1, valueId: 'v' });
  const out = fresh.handle(proposal!);
  assert.deepEqual(broadcasts(out).filter((m) => m.type === 'prevote' && m.round === 1).map((m) => m.valueId), ['v']);
});

test('a crash between the record and its vote: the restored validator sends nil for the step it had entered', () => {
  const me = four.find((v) => v.id !== proposerOf(four, 1, 0))!.id;
  const { fx } = lockOnV(me);
  const atPrecommit = fx.filter((e): e is Extract<Effect<string>, { type: 'persist' }> => e.type === 'persist').at(-1)!.state;
  const prevoteOnly = new Map(broadcasts(fx).filter((m) => m.type === 'prevote').map((m) => [signedKey(m), m]));
  const core = new TendermintCore<string>({ validators: four, me, app, height: 1, signed: prevoteOnly, restored: atPrecommit });
  assert.deepEqual(broadcasts(core.handle({ type: 'start' })), [{ type: 'precommit', from: me, height: 1, round: 0, valueId: null }]);
});

test('restoreProblem: a record behind what was signed is refused, and the core will not be built from it', () => {
  const me = four.find((v) => v.id !== proposerOf(four, 1, 0))!.id;
  const { fx, state, signed } = lockOnV(me);
  const early = fx.filter((e): e is Extract<Effect<string>, { type: 'persist' }> => e.type === 'persist')[0]!.state; // before the lock
  assert.equal(restoreProblem(state, signed.values(), four, app.id), undefined);
  assert.match(restoreProblem(early, signed.values(), four, app.id) ?? '', /precommit|step/);
  assert.match(restoreProblem({ ...state, locked: null }, signed.values(), four, app.id) ?? '', /lock/);
  assert.match(restoreProblem({ ...state, valid: { ...state.valid!, polka: state.valid!.polka.slice(0, 2) } }, signed.values(), four, app.id) ?? '', /polka/);
  assert.throws(() => new TendermintCore<string>({ validators: four, me, app, height: 1, signed, restored: early }), /cannot be restored/);
});

test('line 34: the prevote timeout is armed once a round, whether 2f+1 prevotes came before ours or with it', () => {
  const proposer = proposerOf(four, 1, 0);
  const me = four.find((v) => v.id !== proposer)!.id;
  const others = four.map((v) => v.id).filter((id) => id !== me);
  const prevoteTimers = (fx: Effect<string>[]) => fx.filter((e) => e.type === 'schedule' && e.timeout.step === Step.Prevote).length;
  // Before ours: two others prevote nil and one prevotes 'x' while we wait for the proposal.
  const early = new TendermintCore<string>({ validators: four, me, app, height: 1 });
  let fx = early.handle({ type: 'start' });
  for (const [i, id] of others.entries()) fx.push(...early.handle({ type: 'prevote', from: id, height: 1, round: 0, valueId: i === 0 ? 'x' : null }));
  assert.equal(prevoteTimers(fx), 0, 'still in step propose');
  fx = early.handle({ type: 'timeout', step: Step.Propose, height: 1, round: 0 });
  assert.equal(prevoteTimers(fx), 0, 'three nil of four: it precommits nil at once (line 44), no timer needed');
  // With ours: two others prevote different values; our nil prevote is the third.
  const late = new TendermintCore<string>({ validators: four, me, app, height: 1 });
  fx = late.handle({ type: 'start' });
  fx.push(...late.handle({ type: 'prevote', from: others[0]!, height: 1, round: 0, valueId: 'x' }));
  fx.push(...late.handle({ type: 'prevote', from: others[1]!, height: 1, round: 0, valueId: 'y' }));
  fx.push(...late.handle({ type: 'timeout', step: Step.Propose, height: 1, round: 0 }));
  assert.equal(prevoteTimers(fx), 1);
  fx = late.handle({ type: 'prevote', from: others[2]!, height: 1, round: 0, valueId: 'z' });
  assert.equal(prevoteTimers(fx), 0, 'not again for a fourth');
});
