/**
 * Vote tallies per (round, kind), by voting power.
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

  votesFor(valueId: string | null): Vote[] {
    const out: Vote[] = [];
    for (const vs of this.byValidator.values()) for (const v of vs) if (v.valueId === valueId) out.push(v);
    return out;
  }

  /** Values (not nil) anyone voted for. */
  values(): string[] {
    return [...this.powerFor.keys()].filter((k): k is string => k !== null);
  }
}

export class HeightVotes {
  private readonly sets = new Map<string, VoteSet>();
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

  /** Power of distinct validators that sent anything for `round`. */
  roundPower(round: number, senders: ReadonlySet<string>): number {
    void round;
    let p = 0;
    for (const s of senders) p += this.powers.get(s) ?? 0;
    return p;
  }
}
