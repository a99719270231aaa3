/**
 * The simulation of ./simulation.test.ts with the node's own signer: every proposal and
 * vote signed and checked by Ed25519Signer (OpenSSL, over the sign bytes of
 * protocols/peer-messages.ts), every peer envelope sealed and opened with Ed25519 as the
 * node does (the peer layer's default scheme), keys derived from the validators' ids
 * (../helpers/sim-keys.ts), commit certificates of synced blocks checked by the same
 * verifier. Fewer seeds than with the keyed-hash tags: a run costs about four times as
 * much. SIM_ED_SEEDS=<n> runs more or fewer; SIM_SEED=<n> replays one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate } from '../helpers/consensus-sim.js';
import { assertGarbageRefused, runSeeds } from '../helpers/sim-seeds.js';

const SEEDS = Number(process.env.SIM_ED_SEEDS ?? 100);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

test(`production Ed25519 signatures: agreement, validity and progress over ${only ?? SEEDS} seeds with a Byzantine validator; its forged and malformed payloads refused`, async () => {
  const totals = await runSeeds({ signatures: 'ed25519' }, SEEDS);
  assert.deepEqual(totals.failures, []);
  assertGarbageRefused(totals);
  assert.ok(totals.evidence > 0 || only !== undefined, 'the Byzantine validator equivocated, and honest validators reported it');
});

test('the signature scheme steers nothing: a seed decides the same blocks, at the same times, with Ed25519 as with the tags', async () => {
  for (const seed of [5, 77]) {
    const ed = await simulate({ seed, signatures: 'ed25519' });
    const tags = await simulate({ seed });
    assert.deepEqual(ed.violations, []);
    assert.deepEqual([ed.decided, ed.decidedAt, ed.events, ed.log, ed.refused, ed.envelopes], [tags.decided, tags.decidedAt, tags.events, tags.log, tags.refused, tags.envelopes]);
  }
});
