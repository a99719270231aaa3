/**
 * The production consensus code (runner, peer input, sync) through changes of the
 * validator set (docs/consensus.md "Changing the validator set"), under the seeded
 * adversary of the simulation (drops, delays, a node cut off, precommits only to the
 * proposer, crashes, also torn) and one Byzantine validator that also proposes a set
 * change nobody approved: a fifth validator added, a power changed, a key rotated, a
 * genesis validator removed. Agreement, validity, every certificate good for its height's
 * set, all four changes in force, and progress after the network heals, for every seed.
 * SIM_SEED=<n> replays one; SIM_SET_SEEDS=<n> runs more or fewer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SimOptions, simulate } from '../helpers/consensus-sim.js';

const SEEDS = Number(process.env.SIM_SET_SEEDS ?? 200);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
/** Four changes, one per honest block at best, and two heights each before they are in force. */
const TARGET = 12;

async function runSeeds(opts: Omit<SimOptions, 'seed'>, count: number): Promise<string[]> {
  const failures: string[] = [];
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => i + 1);
  for (const seed of seeds) {
    const r = await simulate({ seed, setChanges: true, targetHeight: TARGET, ...opts });
    if (r.violations.length) failures.push(`seed ${seed} (replay: SIM_SEED=${seed}): ${r.violations.slice(0, 3).join('; ')}\n  ${r.log.join('\n  ')}`);
  }
  return failures;
}

test(`set changes (add, power, key rotation, remove) under partitions and a Byzantine validator: no fork, progress after heal, ${only ?? SEEDS} seeds`, async () => {
  assert.deepEqual(await runSeeds({}, SEEDS), []);
});

test(`set changes with every validator honest (${only ?? Math.ceil(SEEDS / 3)} seeds)`, async () => {
  assert.deepEqual(await runSeeds({ byzantine: false }, Math.ceil(SEEDS / 3)), []);
});

test('after the changes the added validator votes and the removed one only follows', async () => {
  const r = await simulate({ seed: 3, setChanges: true, targetHeight: TARGET + 4 });
  assert.deepEqual(r.violations, [], r.log.join('\n'));
  assert.ok(r.decided.v0!.length >= TARGET + 4, 'v0, removed, still follows the chain');
  assert.deepEqual(r.decided.v0, r.decided.v4!.slice(0, r.decided.v0!.length));
});
