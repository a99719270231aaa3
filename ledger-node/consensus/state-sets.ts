/**
 * The ValidatorSets port (./types.ts) over the node's committed state (docs/protocol.md
 * §13.4): the set of height h is genesis's with every change of a block at or below
 * h - VALSET_DELAY applied, which the state record validatorSet/sets holds (written by
 * ../state/valset.ts, saved with each block, so a restart has it before consensus
 * starts). Known up to the committed head + VALSET_DELAY; later heights are undefined.
 */
import { type GenesisValidator, StateKind, type StateReader, VALSET_DELAY, VALSET_STATE_ID } from '../../protocols/index.js';
import { storedEpochs } from '../state/valset.js';
import type { Validator, ValidatorSets } from './types.js';

const asSet = (vs: readonly GenesisValidator[]): Validator[] => vs.map((v) => ({ id: v.id, power: v.power, publicKey: v.publicKey }));

export function stateSets(genesis: readonly GenesisValidator[], committed: StateReader, headHeight: () => number): ValidatorSets {
  let record: unknown;
  let epochs: { from: number; set: readonly Validator[] }[] = [];
  return (height) => {
    if (height > headHeight() + VALSET_DELAY) return undefined;
    const now = committed.get(StateKind.ValidatorSet, VALSET_STATE_ID);
    // Rebuilt when a block changed the record (each Validator[] then keeps its identity between blocks).
    if (epochs.length === 0 || now !== record) {
      record = now;
      epochs = [{ from: 1, set: asSet(genesis) }, ...storedEpochs(committed).map((e) => ({ from: e.from, set: asSet(e.validators) }))];
    }
    for (let i = epochs.length - 1; i > 0; i--) if (epochs[i]!.from <= height) return epochs[i]!.set;
    return epochs[0]!.set;
  };
}

/** Every node key ever in a set (genesis's, then each change's, pending included), latest last: who may speak on the peer layer. */
export function everyMember(genesis: readonly GenesisValidator[], committed: StateReader): Map<string, string> {
  const keys = new Map<string, string>(genesis.map((v) => [v.id, v.publicKey]));
  for (const e of storedEpochs(committed)) for (const v of e.validators) keys.set(v.id, v.publicKey);
  return keys;
}
