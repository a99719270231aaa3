/**
 * Running the simulation (./consensus-sim.ts) over many seeds and adding up what the
 * tests assert: failures (each with its replay line and the adversary's log), evidence,
 * the Byzantine validator's committed blocks, and what the production wire checks (the
 * peer layer's envelope, the peer input's payload) did to its garbage. SIM_SEED=<n> runs only seed n; SIM_SEEDS=<n> sets the default count.
 */
import assert from 'node:assert/strict';
import { type SimOptions, simulate } from './consensus-sim.js';

export const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

export interface Totals {
  failures: string[]; evidence: number; byzantineBlocks: number; malformed: { delivered: number; refused: number }; badSignatures: number;
  /** Envelope garbage that reached an honest peer layer, by the code it must be refused with, and what the layers refused. */
  envelopes: { delivered: Record<string, number>; garbage: Record<string, number>; duplicates: Record<string, number>; other: Record<string, number> };
}

const add = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
};

export async function runSeeds(opts: Omit<SimOptions, 'seed'>, count = SEEDS): Promise<Totals> {
  const failures: string[] = [];
  let evidence = 0;
  let byzantineBlocks = 0;
  const malformed = { delivered: 0, refused: 0 };
  let badSignatures = 0;
  const envelopes: Totals['envelopes'] = { delivered: {}, garbage: {}, duplicates: {}, other: {} };
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => i + 1);
  for (const seed of seeds) {
    const r = await simulate({ seed, ...opts });
    evidence += r.evidence;
    byzantineBlocks += r.byzantineBlocks;
    malformed.delivered += r.garbage.malformedDelivered;
    add(envelopes.delivered, r.garbage.envelopesDelivered);
    add(envelopes.garbage, r.envelopes.garbage);
    add(envelopes.duplicates, r.envelopes.duplicates);
    add(envelopes.other, r.envelopes.other);
    for (const [code, n] of Object.entries(r.refused)) {
      if (code === 'E_P2P_BAD_SIGNATURE') badSignatures += n;
      else malformed.refused += n;
    }
    if (r.violations.length) {
      failures.push(`seed ${seed} (replay: SIM_SEED=${seed}${opts.byzantine === false ? ', all honest' : ''}): ${r.violations.slice(0, 3).join('; ')}\n  ${r.log.join('\n  ')}`);
    }
  }
  return { failures, evidence, byzantineBlocks, malformed, badSignatures, envelopes };
}

/** What the wire checks of production (the peer layer's envelope, then the peer input's payload) did to the Byzantine validator's garbage. */
export function assertGarbageRefused(t: Totals): void {
  assert.equal(t.malformed.refused, t.malformed.delivered, 'every malformed payload that reached a running honest node was refused by the decoder, and no honest payload was');
  assert.deepEqual(t.envelopes.garbage, t.envelopes.delivered, 'every bad envelope that reached an honest peer layer was refused, with the code it must be');
  assertHonestEnvelopesOpen(t);
  if (only !== undefined) return;
  assert.ok(t.malformed.delivered > 0, 'the Byzantine validator\'s malformed payloads reached honest nodes');
  assert.ok(t.badSignatures > 0, 'votes in another\'s name or with a flipped bit were refused (E_P2P_BAD_SIGNATURE)');
  for (const code of ['E_P2P_BAD_SIGNATURE', 'E_P2P_REPLAY', 'E_P2P_UNKNOWN_PEER']) {
    assert.ok((t.envelopes.delivered[code] ?? 0) > 0, `envelopes the peer layer must refuse with ${code} reached honest nodes`);
  }
}

/** No envelope an honest node (or the Byzantine one's own peer layer) sealed was refused, but the network's duplicates, as replays. */
export function assertHonestEnvelopesOpen(t: Totals): void {
  assert.deepEqual(t.envelopes.other, {}, 'an envelope sealed by a peer layer was refused');
  assert.deepEqual(Object.keys(t.envelopes.duplicates).filter((c) => c !== 'E_P2P_REPLAY'), [], 'a duplicate was refused for another reason than a replay');
}

