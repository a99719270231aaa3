/**
 * The production consensus code (runner, peer input, sync) under a seeded adversarial network, validators crashing (also half-way
 * through a step) and restarting from what they persisted, never from memory: agreement,
 * validity and progress after the network heals, for many seeds, with one Byzantine
 * validator of four and with all four honest. Every message goes through the production
 * peer layer (sealed, opened, replay window: ledger-node/p2p/peers.ts) over the in-memory
 * carrier, every hop by the adversary, then through the production decoder and signature
 * check (PeerInput.onBytes): the Byzantine validator's bad envelopes, malformed payloads
 * and forged signatures are each refused, and no honest one is. A failing seed is printed; SIM_SEED=<n> replays exactly that one (SIM_SEEDS=<n> runs more
 * or fewer).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate } from '../helpers/consensus-sim.js';
import { SEEDS, assertGarbageRefused, assertHonestEnvelopesOpen, runSeeds } from '../helpers/sim-seeds.js';

const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

test(`Tendermint Alg. 1: agreement, validity and progress over ${only ?? SEEDS} seeded runs with a Byzantine validator and crash-restarts from disk`, async () => {
  const totals = await runSeeds({});
  const { failures, evidence, byzantineBlocks } = totals;
  assert.deepEqual(failures, []);
  assertGarbageRefused(totals);
  assert.ok(evidence > 0, 'the Byzantine validator equivocated, and honest validators reported it');
  // Its valid blocks get decided too: the honest validators judge its proposals, not its name.
  assert.ok(byzantineBlocks > 0 || only !== undefined, 'no block of the Byzantine validator was ever committed');
});

test(`all-honest runs agree and progress too (${only ?? SEEDS} seeds; two crashed validators outnumber no one)`, async () => {
  const totals = await runSeeds({ byzantine: false });
  assert.deepEqual(totals.failures, []);
  // Every payload an honest validator sent decoded and verified at every honest receiver,
  // and every envelope opened, but the network's duplicates (refused as replays).
  assert.deepEqual([totals.malformed, totals.badSignatures], [{ delivered: 0, refused: 0 }, 0]);
  assert.deepEqual([totals.envelopes.delivered, totals.envelopes.garbage], [{}, {}]);
  assertHonestEnvelopesOpen(totals);
  assert.ok((totals.envelopes.duplicates.E_P2P_REPLAY ?? 0) > 0 || only !== undefined, 'the network duplicated envelopes, and the peer layers refused the copies as replays');
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
