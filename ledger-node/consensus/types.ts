/**
 * Messages, events and effects of the consensus core (Tendermint, "The latest gossip on
 * BFT consensus", Buchman, Kwon, Milosevic, arXiv 1807.04938, Algorithm 1).
 * Values are opaque to the core: it knows them by id (the block hash, hex).
 */

export const Step = { Propose: 0, Prevote: 1, Precommit: 2 } as const;
export type Step = (typeof Step)[keyof typeof Step];

export type VoteKind = 'prevote' | 'precommit';

export interface Proposal<V> {
  readonly type: 'proposal';
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly value: V;
  readonly valueId: string;
  /** The round in which the proposer saw a polka for this value, or -1. */
  readonly validRound: number;
}

export interface Vote {
  readonly type: VoteKind;
  readonly from: string;
  readonly height: number;
  readonly round: number;
  /** null is a vote for nil. */
  readonly valueId: string | null;
}

export type ConsensusMessage<V> = Proposal<V> | Vote;

export interface TimeoutEvent {
  readonly type: 'timeout';
  readonly step: Step;
  readonly height: number;
  readonly round: number;
}

export type ConsensusEvent<V> = ConsensusMessage<V> | TimeoutEvent | { readonly type: 'start' };

/**
 * What a validator must find on disk after a crash to stay safe at its height (and to
 * keep the chain live): the round and step it is in, its lock (lines 38-39) and its valid
 * value (lines 42-43) with the 2f+1 prevotes that made the value valid. With the signed
 * messages it is everything the core needs to go on where it stopped.
 */
export interface SafetyState<V> {
  readonly height: number;
  readonly round: number;
  readonly step: Step;
  /** lockedValue and lockedRound; null while lockedRound is -1. */
  readonly locked: { readonly round: number; readonly value: V; readonly valueId: string } | null;
  /** validValue and validRound, and the polka for it; null while validRound is -1. */
  readonly valid: { readonly round: number; readonly value: V; readonly valueId: string; readonly polka: readonly Vote[] } | null;
}

export type Effect<V> =
  /**
   * Write the safety state to disk, synced, before carrying out any effect after it: a
   * broadcast that follows may depend on it (a write-ahead before the send, as cometbft's
   * consensus WAL). Emitted before the first message of a height and whenever round,
   * step, lock or valid value change.
   */
  | { readonly type: 'persist'; readonly state: SafetyState<V> }
  /** Sign (once: see the signed-vote record) and send to every peer, and to ourselves. */
  | { readonly type: 'broadcast'; readonly msg: ConsensusMessage<V> }
  | { readonly type: 'schedule'; readonly timeout: TimeoutEvent; readonly afterMs: number }
  /** Decided: `precommits` (> 2/3 of power, for valueId in `round`) form the commit certificate. */
  | { readonly type: 'decide'; readonly height: number; readonly round: number; readonly value: V; readonly valueId: string; readonly proposal: Proposal<V>; readonly precommits: readonly Vote[] }
  /** A validator signed two different votes (or proposals) for one height, round and step. */
  | { readonly type: 'evidence'; readonly first: ConsensusMessage<V>; readonly second: ConsensusMessage<V> };

export interface Validator {
  readonly id: string;
  readonly power: number;
  /** Hex of the key its messages of this height are checked with (absent in tests that sign by id). */
  readonly publicKey?: string;
}

/**
 * The validator set of each height (docs/consensus.md "Changing the validator set"): a
 * function of the chain committed up to `height - VALSET_DELAY`, so every validator knows
 * it before it votes at that height. Undefined for a height whose set is not known yet
 * (beyond the committed head + VALSET_DELAY).
 */
export type ValidatorSets = (height: number) => readonly Validator[] | undefined;

/** A set that never changes (a genesis without changes, the tests of one set). */
export const fixedSets = (validators: readonly Validator[]): ValidatorSets => () => validators;

export interface Timeouts {
  /** timeout(round) = base + delta * round, in ms (Tendermint §"timeouts grow per round"). */
  readonly proposeBaseMs: number;
  readonly proposeDeltaMs: number;
  readonly prevoteBaseMs: number;
  readonly prevoteDeltaMs: number;
  readonly precommitBaseMs: number;
  readonly precommitDeltaMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  proposeBaseMs: 1000, proposeDeltaMs: 500,
  prevoteBaseMs: 500, prevoteDeltaMs: 250,
  precommitBaseMs: 500, precommitDeltaMs: 250,
};

/** What the core needs from outside, as pure functions. */
export interface ConsensusApp<V> {
  /** getValue() of Algorithm 1: the block this node would propose at `height`. */
  propose(height: number): V;
  /** valid(v) of Algorithm 1. */
  valid(height: number, value: V): boolean;
  id(value: V): string;
}
