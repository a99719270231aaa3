/**
 * The simulation must notice a broken consensus, or its passing runs mean nothing: each
 * test weakens one rule in a copy of the compiled core (test/helpers/mutant.ts) and
 * expects the simulation to find two honest validators deciding different blocks.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { simulate as Simulate } from '../helpers/consensus-sim.js';
import { type Mutant, type Mutation, makeMutant } from '../helpers/mutant.js';

const mutants: Mutant[] = [];
after(() => {
  for (const m of mutants) m.remove();
});

async function simulationOf(mutations: readonly Mutation[]): Promise<typeof Simulate> {
  const m = makeMutant(mutations);
  mutants.push(m);
  return (await m.load<{ simulate: typeof Simulate }>('test/helpers/consensus-sim.js')).simulate;
}

/** The first of `seeds` seeds whose run forks, or undefined. */
async function firstFork(sim: typeof Simulate, seeds: number, byzantine: boolean): Promise<number | undefined> {
  for (let seed = 1; seed <= seeds; seed++) if ((await sim({ seed, byzantine })).violations.some((v) => v.startsWith('agreement'))) return seed;
  return undefined;
}

const CORE = 'ledger-node/consensus/core.js';

test('restarting from memory instead of the persisted state (issue 17): the schedule of the issue forks, and the random adversary finds a fork', async () => {
  const sim = await simulationOf([{ file: CORE, from: 'const r = opts.restored;', to: 'const r = undefined;' }]);
  const r = await sim({ seed: 1, schedule: 'issue-17' });
  assert.ok(r.violations.some((v) => v.startsWith('agreement')), `no fork: ${r.violations.join('; ')}`);
  assert.ok(await firstFork(sim, 1000, false) !== undefined, 'no all-honest seed of 1,000 found the fork');
});

test('quorum weakened to half the power: the random adversary finds a fork, with and without a Byzantine validator', async () => {
  const sim = await simulationOf([{ file: 'ledger-node/consensus/votes.js', from: 'return p * 3 > this.total * 2;', to: 'return p * 2 >= this.total;' }]);
  assert.ok(await firstFork(sim, 1000, true) !== undefined, 'no Byzantine seed of 1,000 forked');
  assert.ok(await firstFork(sim, 1000, false) !== undefined, 'no all-honest seed of 1,000 forked');
});

test('lock rule dropped (Alg. 1 lines 23 and 29): a locked validator prevotes a new block, and issue 17\'s schedule forks', async () => {
  const sim = await simulationOf([
    { file: CORE, from: '(this.lockedRound === -1 || this.opts.app.id(this.lockedValue) === p.valueId)', to: 'true' },
    { file: CORE, from: '(this.lockedRound <= p.validRound || this.opts.app.id(this.lockedValue) === p.valueId)', to: 'true' },
  ]);
  const r = await sim({ seed: 1, schedule: 'issue-17' });
  assert.ok(r.violations.some((v) => v.startsWith('agreement')), `no fork: ${r.violations.join('; ')}`);
});
