/**
 * The production consensus code (runner, peer input, sync) under a seeded adversarial network, validators crashing (also half-way
 * through a step) and restarting from what they persisted, never from memory: agreement,
 * validity and progress after the network heals, for many seeds, with one Byzantine
 * validator of four and with all four honest. A failing seed is printed; SIM_SEED=<n>
 * replays exactly that one (SIM_SEEDS=<n> runs more or fewer).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SimOptions, simulate } from '../helpers/consensus-sim.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

async function runSeeds(opts: Omit<SimOptions, 'seed'>): Promise<{ failures: string[]; evidence: number; byzantineBlocks: number }> {
  const failures: string[] = [];
  let evidence = 0;
  let byzantineBlocks = 0;
  const seeds = only !== undefined ? [only] : Array.from({ length: SEEDS }, (_, i) => i + 1);
  for (const seed of seeds) {
    const r = await simulate({ seed, ...opts });
    evidence += r.evidence;
    byzantineBlocks += r.byzantineBlocks;
    if (r.violations.length) {
      failures.push(`seed ${seed} (replay: SIM_SEED=${seed}${opts.byzantine === false ? ', all honest' : ''}): ${r.violations.slice(0, 3).join('; ')}\n  ${r.log.join('\n  ')}`);
    }
  }
  return { failures, evidence, byzantineBlocks };
}

test(`Tendermint Alg. 1: agreement, validity and progress over ${only ?? SEEDS} seeded runs with a Byzantine validator and crash-restarts from disk`, async () => {
  const { failures, evidence, byzantineBlocks } = await runSeeds({});
  assert.deepEqual(failures, []);
  assert.ok(evidence > 0, 'the Byzantine validator equivocated, and honest validators reported it');
  // Its valid blocks get decided too: the honest validators judge its proposals, not its name.
  assert.ok(byzantineBlocks > 0 || only !== undefined, 'no block of the Byzantine validator was ever committed');
});

test(`all-honest runs agree and progress too (${only ?? SEEDS} seeds; two crashed validators outnumber no one)`, async () => {
  assert.deepEqual((await runSeeds({ byzantine: false })).failures, []);
});

test('the same seed replays the same run exactly', async () => {
  for (const seed of [7, 4242]) assert.deepEqual(await simulate({ seed }), await simulate({ seed }));
});

test('issue 17\'s schedule: the proposer decides alone, the two locked validators are killed and restarted; the other three decide the same block, without it', async () => {
  const r = await simulate({ seed: 1, schedule: 'issue-17', targetHeight: 4 });
  assert.deepEqual(r.violations, [], r.log.join('\n'));
  const alone = r.marks.decidedAlone;
  assert.ok(alone, `the schedule reached its lone decision: ${r.log.join('; ')}`);
  for (const id of ['v0', 'v1', 'v2', 'v3']) assert.equal(r.decided[id]![alone.height - 1], alone.block, `${id} decided ${alone.by}'s block at height ${alone.height}`);
  for (const id of ['v0', 'v1', 'v2', 'v3'].filter((x) => x !== alone.by)) {
    assert.ok(r.decidedAt[id]![alone.height]! < r.marks.leaderBackAt!, `${id} decided height ${alone.height} while ${alone.by} was still cut off (its restored lock and polka suffice)`);
  }
});
