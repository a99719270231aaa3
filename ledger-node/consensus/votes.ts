/**
 * The vote keeper: tallies of one height by voting power, and the thresholds of Tendermint's
 * Algorithm 1 that they cross, each reported once, at the vote (or proposal) that crosses it
 * (Malachite's VoteKeeper). So the state machine reacts to "2f+1 prevotes in round r" once
 * and needs no "for the first time" guards of its own; what it could not act on yet (the
 * wrong step, a round not reached) it asks the keeper about when it gets there.
 *
 * A validator that signs two different votes for one (height, round, kind) is reported
 * (evidence), and each of its votes still counts toward its own value: a commit
 * certificate relayed by a peer may hold the equivocator's vote for the decided block
 * while we first heard its other vote. Counting both is safe: two values each backed by
 * more than 2/3 of the power would need more than 1/3 of it to equivocate, which the
 * algorithm's assumption excludes. "Any" tallies (lines 34, 47) count each validator once.
 */
import type { Validator, Vote, VoteKind } from './types.js';

/** Distinct values one validator may be counted for in one set (bounds an equivocator). */
const MAX_VALUES_PER_VALIDATOR = 4;

/** A threshold crossed, reported once per height. */
export type Threshold =
  /** More than 2/3 of the power prevoted in the round, for anything (line 34). */
  | { readonly kind: 'prevote-any'; readonly round: number }
  /** More than 2/3 prevoted nil (line 44). */
  | { readonly kind: 'prevote-nil'; readonly round: number }
  /** More than 2/3 prevoted this value: a polka (lines 28, 36). */
  | { readonly kind: 'polka'; readonly round: number; readonly valueId: string }
  /** More than 2/3 precommitted in the round, for anything (line 47). */
  | { readonly kind: 'precommit-any'; readonly round: number }
  /** More than 2/3 precommitted this value (line 49). */
  | { readonly kind: 'commit'; readonly round: number; readonly valueId: string }
  /** More than 1/3 of the power sent something in the round (line 55). */
  | { readonly kind: 'skip'; readonly round: number };

export class VoteSet {
  private readonly byValidator = new Map<string, Vote[]>();
  private readonly powerFor = new Map<string | null, number>();
  private totalSeen = 0;

  constructor(private readonly powers: ReadonlyMap<string, number>) {}

  /** Add a vote: 'added', 'duplicate' (the same again), or the conflicting earlier vote. */
  add(v: Vote): 'added' | 'duplicate' | { conflict: Vote } {
    const prev = this.byValidator.get(v.from);
    if (prev?.some((p) => p.valueId === v.valueId)) return 'duplicate';
    const p = this.powers.get(v.from) ?? 0;
    if (!prev) {
      this.byValidator.set(v.from, [v]);
      this.totalSeen += p;
    } else if (prev.length < MAX_VALUES_PER_VALIDATOR) {
      prev.push(v);
    } else {
      return { conflict: prev[0]! };
    }
    this.powerFor.set(v.valueId, (this.powerFor.get(v.valueId) ?? 0) + p);
    return prev ? { conflict: prev[0]! } : 'added';
  }

  power(valueId: string | null): number {
    return this.powerFor.get(valueId) ?? 0;
  }

  get anyPower(): number {
    return this.totalSeen;
  }

  /** Every vote of the set, for anything. */
  all(): Vote[] {
    return [...this.byValidator.values()].flat();
  }

  votesFor(valueId: string | null): Vote[] {
    const out: Vote[] = [];
    for (const vs of this.byValidator.values()) for (const v of vs) if (v.valueId === valueId) out.push(v);
    return out;
  }
}

export class VoteKeeper {
  private readonly sets = new Map<string, VoteSet>();
  private readonly senders = new Map<number, Set<string>>();
  private readonly crossed = new Set<string>();
  private readonly reachedCommits: { round: number; valueId: string }[] = [];
  readonly powers: ReadonlyMap<string, number>;
  readonly total: number;

  constructor(validators: readonly Validator[]) {
    this.powers = new Map(validators.map((v) => [v.id, v.power]));
    this.total = validators.reduce((s, v) => s + v.power, 0);
  }

  set(round: number, kind: VoteKind): VoteSet {
    const k = `${round}/${kind}`;
    let s = this.sets.get(k);
    if (!s) {
      s = new VoteSet(this.powers);
      this.sets.set(k, s);
    }
    return s;
  }

  /** More than two thirds of the total power (2f+1 in the paper). */
  quorum(p: number): boolean {
    return p * 3 > this.total * 2;
  }

  /** More than one third (f+1 in the paper). */
  oneThird(p: number): boolean {
    return p * 3 > this.total;
  }

  /**
   * Count a vote. Returns how it was taken ('added', 'duplicate', or the conflicting earlier
   * vote: evidence) and the thresholds it crossed, each for the first time.
   */
  addVote(v: Vote): { result: 'added' | 'duplicate' | { conflict: Vote }; crossed: Threshold[] } {
    const set = this.set(v.round, v.type);
    const result = set.add(v);
    if (result === 'duplicate') return { result, crossed: [] };
    const crossed = this.heard(v.round, v.from);
    const once = (t: Threshold, reached: boolean): void => {
      const key = `${t.kind}/${t.round}/${'valueId' in t ? t.valueId : ''}`;
      if (reached && !this.crossed.has(key)) {
        this.crossed.add(key);
        crossed.push(t);
      }
    };
    if (v.type === 'prevote') {
      once({ kind: 'prevote-any', round: v.round }, this.quorum(set.anyPower));
      if (v.valueId === null) once({ kind: 'prevote-nil', round: v.round }, this.quorum(set.power(null)));
      else once({ kind: 'polka', round: v.round, valueId: v.valueId }, this.quorum(set.power(v.valueId)));
    } else {
      once({ kind: 'precommit-any', round: v.round }, this.quorum(set.anyPower));
      if (v.valueId !== null && this.quorum(set.power(v.valueId)) && !this.crossed.has(`commit/${v.round}/${v.valueId}`)) {
        once({ kind: 'commit', round: v.round, valueId: v.valueId }, true);
        this.reachedCommits.push({ round: v.round, valueId: v.valueId });
      }
    }
    return { result, crossed };
  }

  /** `from` sent something signed in `round` (a proposal, a vote): the skip threshold (line 55). */
  heard(round: number, from: string): Threshold[] {
    let s = this.senders.get(round);
    if (!s) this.senders.set(round, (s = new Set()));
    if (s.has(from) || !this.powers.has(from)) return [];
    s.add(from);
    let p = 0;
    for (const id of s) p += this.powers.get(id) ?? 0;
    const key = `skip/${round}/`;
    if (!this.oneThird(p) || this.crossed.has(key)) return [];
    this.crossed.add(key);
    return [{ kind: 'skip', round }];
  }

  // What was reached already: for a step or round entered after its threshold was reported.
  prevoteAny = (round: number): boolean => this.quorum(this.set(round, 'prevote').anyPower);
  prevoteNil = (round: number): boolean => this.quorum(this.set(round, 'prevote').power(null));
  polka = (round: number, valueId: string): boolean => this.quorum(this.set(round, 'prevote').power(valueId));
  precommitAny = (round: number): boolean => this.quorum(this.set(round, 'precommit').anyPower);
  commit = (round: number, valueId: string): boolean => this.quorum(this.set(round, 'precommit').power(valueId));

  /** The highest round in which more than 1/3 of the power was heard. */
  highestSkip(): number {
    let best = -1;
    for (const r of this.senders.keys()) if (r > best && this.crossed.has(`skip/${r}/`)) best = r;
    return best;
  }

  /** Rounds with a commit threshold reached, and for which value (line 49 when its proposal comes). */
  commits(): readonly { round: number; valueId: string }[] {
    return this.reachedCommits;
  }
}
