/**
 * Tendermint Algorithm 1 under a seeded random network with one Byzantine validator of
 * four: agreement, validity and progress after the network heals, for many seeds.
 * A failing seed is printed; SIM_SEED=<n> replays exactly that one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate } from '../../helpers/consensus-sim.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

test(`Tendermint Alg. 1: agreement, validity and progress over ${only ?? SEEDS} seeded runs with a Byzantine validator`, () => {
  const failures: string[] = [];
  let evidence = 0;
  const seeds = only !== undefined ? [only] : Array.from({ length: SEEDS }, (_, i) => i + 1);
  for (const seed of seeds) {
    const r = simulate({ seed });
    evidence += r.evidence;
    if (r.violations.length) failures.push(`seed ${seed} (replay: SIM_SEED=${seed}): ${r.violations.slice(0, 3).join('; ')}`);
  }
  assert.deepEqual(failures, []);
  assert.ok(evidence > 0, 'the Byzantine validator equivocated, and honest validators reported it');
});

test('the same seed replays the same run exactly', () => {
  for (const seed of [7, 4242]) assert.deepEqual(simulate({ seed }), simulate({ seed }));
});

test('all-honest runs agree and progress too', () => {
  for (let seed = 1; seed <= 100; seed++) assert.deepEqual(simulate({ seed, byzantine: false }).violations, [], `seed ${seed}`);
});
