/**
 * The consensus core: Tendermint's Algorithm 1 ("The latest gossip on BFT consensus",
 * arXiv 1807.04938) for one height, as a state machine. `handle(event)` returns effects;
 * the core does no I/O and reads no clock: messages and timeouts come in as events, and
 * broadcasts, timeout requests and the decision go out as effects. The runner builds a
 * core per height (./runner.ts); messages of other heights never reach it.
 *
 * Votes go to the vote keeper (./votes.ts), which reports each threshold once, when it is
 * crossed; each rule is one arm below, tagged with its line, fired by its trigger (a
 * proposal, a threshold, a timeout) or, when its step or round comes later than its
 * threshold, on entering that step or round (Malachite's core state machine). Voting
 * power replaces counting: "2f+1" is more than 2/3 of the total power, "f+1" more than 1/3.
 *
 * Signature checks happen before events enter. What a validator must remember to stay safe
 * leaves the core as effects the adapter carries out in order: `persist` (round, step,
 * lock, valid value) before the `broadcast` that depends on it, and each broadcast is
 * itself recorded before it is sent. After a crash the core is built again from that
 * record (`restored`, `signed`), never from memory: a validator that forgot its lock
 * could prevote another block than the one it precommitted, and two such validators
 * suffice to fork a chain of four (issue 17).
 */
import { proposerOf } from './proposer.js';
import {
  type ConsensusApp, type ConsensusEvent, type ConsensusMessage, DEFAULT_TIMEOUTS, type Effect, type Proposal,
  type SafetyState, Step, type TimeoutEvent, type Timeouts, type Validator, type Vote, type VoteKind,
} from './types.js';
import { type Threshold, VoteKeeper } from './votes.js';

/** Most distinct proposals kept per height (equivocation beyond this is only evidence). */
const MAX_PROPOSALS = 64;

export interface CoreOptions<V> {
  readonly validators: readonly Validator[];
  /** Our validator id, or undefined for an observer (it follows, never votes). */
  readonly me: string | undefined;
  readonly app: ConsensusApp<V>;
  readonly timeouts?: Timeouts;
  /** First height to decide (last committed + 1). */
  readonly height: number;
  /**
   * What we signed before a restart, by `${height}/${round}/${type}`: we never sign a
   * different message for the same height, round and step, we send the same one again.
   */
  readonly signed?: ReadonlyMap<string, ConsensusMessage<V>>;
  /**
   * The safety state last persisted at this height, if any: the core resumes in its round
   * and step, with its lock and valid value. Check it first with `restoreProblem`.
   */
  readonly restored?: SafetyState<V>;
}

/** What `persist` compares: a new record is written only when one of these changes. */
const snapshotKey = (round: number, step: Step, lockedRound: number, lockedId: string | undefined, validRound: number, validId: string | undefined): string =>
  `${round}/${step}/${lockedRound}/${lockedId ?? ''}/${validRound}/${validId ?? ''}`;

/**
 * Why a restored record cannot be trusted, or undefined. It must be at least as far on
 * as every message we signed at its height (it is written before them): a lock at or
 * above every round in which we precommitted a block, a round at or above every signed
 * message, a step at or above what we signed in that round. Its polka must be more than
 * 2/3 of the power prevoting the valid value in the valid round.
 */
export function restoreProblem<V>(
  state: SafetyState<V>, signed: Iterable<ConsensusMessage<V>>, validators: readonly Validator[], id: (v: V) => string,
): string | undefined {
  const { height, round, step, locked, valid } = state;
  if (!Number.isSafeInteger(round) || round < 0) return `round ${round} is not a round`;
  if (step !== Step.Propose && step !== Step.Prevote && step !== Step.Precommit) return `step ${String(step)} is not a step`;
  if (locked && (locked.round < 0 || locked.round > round || id(locked.value) !== locked.valueId)) return 'lock does not match its round or value';
  if (valid && (valid.round < 0 || valid.round > round || id(valid.value) !== valid.valueId)) return 'valid value does not match its round or value';
  if (locked && (!valid || valid.round < locked.round)) return 'lock without a valid value at least as recent (lines 38-43 set both)';
  for (const m of signed) {
    if (m.height !== height) continue;
    if (m.round > round) return `a ${m.type} signed in round ${m.round}, after the recorded round ${round}`;
    const at = m.type === 'proposal' ? Step.Propose : m.type === 'prevote' ? Step.Prevote : Step.Precommit;
    if (m.round === round && at > step) return `a ${m.type} signed in round ${round}, after the recorded step`;
    if (m.type === 'precommit' && m.valueId !== null && (!locked || locked.round < m.round)) {
      return `a precommit for ${m.valueId} in round ${m.round} but the recorded lock is ${locked ? `from round ${locked.round}` : 'none'} (line 38)`;
    }
  }
  if (valid) {
    const votes = new VoteKeeper(validators);
    const set = votes.set(valid.round, 'prevote');
    for (const v of valid.polka) {
      if (v.type !== 'prevote' || v.height !== height || v.round !== valid.round || v.valueId !== valid.valueId) return 'polka holds a vote for something else';
      set.add(v);
    }
    if (!votes.quorum(set.power(valid.valueId))) return 'polka has no more than 2/3 of the voting power';
  }
  return undefined;
}

export const signedKey = (m: { height: number; round: number; type: string }): string => `${m.height}/${m.round}/${m.type}`;

export class TendermintCore<V> {
  height: number;
  round = 0;
  step: Step = Step.Propose;
  private lockedValue: V | null = null;
  private lockedRound = -1;
  private validValue: V | null = null;
  private validRound = -1;
  private decided = false;
  private started = false;
  /** The state as last persisted at this height (snapshotKey), or undefined before the first. */
  private persisted: string | undefined;
  /** The prevotes behind validValue (line 36's polka), persisted with it. */
  private validPolka: readonly Vote[] = [];

  /** The first proposal of each round (what we prevote on, lines 22 and 28). */
  private readonly proposals = new Map<number, Proposal<V>>();
  /**
   * Every proposal of each round by value id, a few at most: an equivocating proposer may
   * send another value to others, and it is that one a 2f+1 polka or commit names (36, 49).
   */
  private readonly byValue = new Map<string, Proposal<V>>();
  private readonly votes: VoteKeeper;
  private readonly validity = new Map<string, boolean>();
  private readonly signed: Map<string, ConsensusMessage<V>>;
  private readonly timeouts: Timeouts;

  constructor(private readonly opts: CoreOptions<V>) {
    this.height = opts.height;
    this.votes = new VoteKeeper(opts.validators);
    this.signed = new Map(opts.signed ?? []);
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    const r = opts.restored;
    if (r) {
      const problem = r.height !== this.height ? `record is for height ${r.height}` : restoreProblem(r, this.signed.values(), opts.validators, opts.app.id);
      if (problem) throw new Error(`consensus state of height ${this.height} cannot be restored: ${problem}`);
      this.round = r.round;
      this.step = r.step;
      this.lockedValue = r.locked?.value ?? null;
      this.lockedRound = r.locked?.round ?? -1;
      this.validValue = r.valid?.value ?? null;
      this.validRound = r.valid?.round ?? -1;
      this.validPolka = r.valid?.polka ?? [];
      for (const v of this.validPolka) this.record(v, []);
      this.persisted = this.snapshot();
    }
    // What we signed before a restart still counts: we sent it, others may hold it. The
    // rules see these on start, like everything recorded before it.
    for (const m of this.signed.values()) if (m.height === this.height) this.record(m, []);
  }

  proposer(height: number, round: number): string {
    return proposerOf(this.opts.validators, height, round);
  }

  /** Messages this node signed (for re-gossip and for persisting). */
  signedMessages(): ConsensusMessage<V>[] {
    return [...this.signed.values()].filter((m) => m.height === this.height);
  }

  /**
   * The precommits of the round before ours, which moved us on (line 47's timeout): a peer
   * left in that round without them (its copies dropped, their Byzantine sender silent
   * since) needs them to move on too, as cometbft's reactor sends a peer the votes of its
   * round. Relayed as signed, so forging none.
   */
  lastRoundPrecommits(): readonly Vote[] {
    return this.round === 0 ? [] : this.votes.set(this.round - 1, 'precommit').all();
  }

  /** The polka behind our valid value: peers need it to accept that value proposed again (line 28). */
  polkaMessages(): readonly Vote[] {
    return this.validPolka;
  }

  /** Feed one event of this height; returns the effects it causes. */
  handle(ev: ConsensusEvent<V>): Effect<V>[] {
    const out: Effect<V>[] = [];
    switch (ev.type) {
      case 'start':
        if (!this.started) {
          this.started = true;
          if (this.opts.restored) this.resume(out);
          else this.startRound(0, out); // line 10: upon start do StartRound(0)
          this.catchUp(out);
        }
        break;
      case 'timeout':
        if (this.started) this.onTimeout(ev, out);
        break;
      case 'proposal': {
        const crossed = this.record(ev, out);
        if (this.started && crossed) {
          this.onProposal(ev, out);
          this.onThresholds(crossed, out);
        }
        break;
      }
      default: {
        const crossed = this.record(ev, out);
        if (this.started && crossed) this.onThresholds(crossed, out);
      }
    }
    this.checkpoint(out, false);
    return out;
  }

  /**
   * Back in the round and step of the restored record. A step is entered together with
   * its vote (lines 24-27, 40-41, 45-46, 58-59, 62-63), but a crash can fall between the
   * record and the vote's own write: then the vote was never sent, and we send nil,
   * which is safe in any state.
   */
  private resume(out: Effect<V>[]): void {
    if (this.step === Step.Propose) {
      this.startRound(this.round, out); // lines 11-19 again: the same proposal if we signed one
      return;
    }
    const missing = (type: VoteKind) => !this.signed.has(signedKey({ height: this.height, round: this.round, type }));
    const anyBefore = this.votes.prevoteAny(this.round);
    if (missing('prevote')) this.vote('prevote', null, out);
    if (this.step === Step.Precommit) {
      if (missing('precommit')) this.vote('precommit', null, out);
    } else {
      this.enteredPrevote(anyBefore, out);
    }
    this.enteredRound(out);
  }

  /** On start: what was heard before it (and, restored, before the crash) gets its turn. */
  private catchUp(out: Effect<V>[]): void {
    const skip = this.votes.highestSkip();
    if (skip > this.round) this.startRound(skip, out); // line 55
    for (const c of this.votes.commits()) this.tryDecide(c.round, c.valueId, out); // line 49
  }

  // line 11: Function StartRound(round)
  private startRound(round: number, out: Effect<V>[]): void {
    if (this.decided) return;
    this.round = round;
    this.step = Step.Propose; // line 12
    if (this.opts.me !== undefined && this.proposer(this.height, round) === this.opts.me) { // line 13
      const value = this.validValue ?? this.opts.app.propose(this.height); // lines 14-16
      this.broadcast({ type: 'proposal', from: this.opts.me, height: this.height, round, value, valueId: this.opts.app.id(value), validRound: this.validRound }, out); // line 17
    } else {
      this.schedule(Step.Propose, round, out); // line 19
    }
    this.enteredRound(out);
  }

  /** Entering a round: what was heard of it before we got there gets its turn. */
  private enteredRound(out: Effect<V>[]): void {
    const r = this.round;
    const p = this.proposals.get(r);
    if (p) this.onProposal(p, out); // lines 22, 28 (and 49): its proposal came early
    if (this.votes.precommitAny(r)) this.schedule(Step.Precommit, r, out); // line 47: crossed before we came; a round is entered once
  }

  private onTimeout(t: TimeoutEvent, out: Effect<V>[]): void {
    if (t.height !== this.height || t.round !== this.round || this.decided) return;
    // The step moves before the vote leaves, so that the record persisted with it says so.
    if (t.step === Step.Propose && this.step === Step.Propose) { // line 57-60
      this.step = Step.Prevote;
      const anyBefore = this.votes.prevoteAny(this.round);
      this.vote('prevote', null, out);
      this.enteredPrevote(anyBefore, out);
    } else if (t.step === Step.Prevote && this.step === Step.Prevote) { // line 61-64
      this.step = Step.Precommit;
      this.vote('precommit', null, out);
    } else if (t.step === Step.Precommit) { // line 65-67
      this.startRound(this.round + 1, out);
    }
  }

  /** A new proposal of this height (stored already). */
  private onProposal(p: Proposal<V>, out: Effect<V>[]): void {
    this.tryDecide(p.round, p.valueId, out); // line 49, any round
    if (p.round !== this.round) return;
    this.tryPrevote(out); // lines 22, 28
    this.tryLock(p.round, p.valueId, out); // line 36
  }

  /** Thresholds the last message crossed, each once. */
  private onThresholds(crossed: readonly Threshold[], out: Effect<V>[]): void {
    for (const t of crossed) {
      if (this.decided) return;
      switch (t.kind) {
        case 'prevote-any': // line 34
          if (t.round === this.round && this.step === Step.Prevote) this.schedule(Step.Prevote, t.round, out); // line 35
          break;
        case 'polka':
          this.tryPrevote(out); // line 28: the polka of the proposal's validRound
          this.tryLock(t.round, t.valueId, out); // line 36
          break;
        case 'prevote-nil':
          if (t.round === this.round && this.step === Step.Prevote) this.precommitNil(out); // line 44
          break;
        case 'precommit-any': // line 47
          if (t.round === this.round) this.schedule(Step.Precommit, t.round, out); // line 48
          break;
        case 'commit':
          this.tryDecide(t.round, t.valueId, out); // line 49
          break;
        case 'skip': // line 55
          if (t.round > this.round) this.startRound(t.round, out);
          break;
      }
    }
  }

  /**
   * Step prevote entered and our prevote out: the rules whose threshold was crossed before.
   * `anyBefore`: 2f+1 prevotes were in before ours (had ours crossed it, its threshold
   * already ran line 34), so the prevote timeout is armed once.
   */
  private enteredPrevote(anyBefore: boolean, out: Effect<V>[]): void {
    const r = this.round;
    if (this.step === Step.Prevote && anyBefore) this.schedule(Step.Prevote, r, out); // line 34
    for (const p of this.byValue.values()) if (p.round === r) this.tryLock(r, p.valueId, out); // line 36
    if (this.step === Step.Prevote && this.votes.prevoteNil(r)) this.precommitNil(out); // line 44
  }

  // lines 22-27 and 28-33: the round's first proposal, new or proposed again with its polka.
  private tryPrevote(out: Effect<V>[]): void {
    const p = this.proposals.get(this.round);
    if (this.decided || this.step !== Step.Propose || !p) return;
    let ok: boolean;
    if (p.validRound === -1) { // line 22
      ok = this.valid(p) && (this.lockedRound === -1 || this.opts.app.id(this.lockedValue!) === p.valueId); // line 23
    } else if (this.votes.polka(p.validRound, p.valueId)) { // line 28
      ok = this.valid(p) && (this.lockedRound <= p.validRound || this.opts.app.id(this.lockedValue!) === p.valueId); // line 29
    } else {
      return; // no polka for it yet: the propose timeout, or the polka, comes next
    }
    this.step = Step.Prevote; // lines 27, 33
    const anyBefore = this.votes.prevoteAny(this.round);
    this.vote('prevote', ok ? p.valueId : null, out); // lines 24-25, 30-31
    this.enteredPrevote(anyBefore, out);
  }

  // line 36: a proposal and a polka for it in this round, valid, step >= prevote.
  private tryLock(round: number, valueId: string, out: Effect<V>[]): void {
    if (this.decided || round !== this.round || this.step < Step.Prevote) return;
    const p = this.byValue.get(`${round}/${valueId}`);
    if (!p || !this.votes.polka(round, valueId) || !this.valid(p)) return;
    if (this.validRound === round && this.validValue !== null && this.opts.app.id(this.validValue) === valueId) return; // fired already
    // Lock and valid value change before the precommit leaves: persisted with it.
    this.validValue = p.value; // line 42
    this.validRound = round; // line 43
    this.validPolka = this.votes.set(round, 'prevote').votesFor(valueId);
    if (this.step === Step.Prevote) { // line 37
      this.lockedValue = p.value; // line 38
      this.lockedRound = round; // line 39
      this.step = Step.Precommit; // line 41
      this.vote('precommit', valueId, out); // line 40
    }
  }

  // lines 44-46
  private precommitNil(out: Effect<V>[]): void {
    this.step = Step.Precommit; // line 46
    this.vote('precommit', null, out); // line 45
  }

  // lines 49-51: a proposal and 2f+1 precommits for it, in any round, valid: decide.
  private tryDecide(round: number, valueId: string, out: Effect<V>[]): void {
    if (this.decided) return;
    const p = this.byValue.get(`${round}/${valueId}`);
    if (!p || !this.votes.commit(round, valueId) || !this.valid(p)) return; // line 50
    this.decided = true; // line 51; lines 52-54 are the runner's next core
    out.push({ type: 'decide', height: this.height, round, value: p.value, valueId, proposal: p, precommits: this.votes.set(round, 'precommit').votesFor(valueId) });
  }

  /**
   * Take a message of this height into the tallies; report evidence. Returns the thresholds
   * it crossed, or undefined when it was dropped (not a validator, a duplicate).
   */
  private record(m: ConsensusMessage<V>, out: Effect<V>[]): Threshold[] | undefined {
    if (!this.opts.validators.some((v) => v.id === m.from)) return undefined; // only validators speak
    if (m.height !== this.height || m.round < 0 || !Number.isSafeInteger(m.round)) return undefined;
    if (m.type === 'proposal') {
      if (m.from !== this.proposer(m.height, m.round)) return undefined; // "from proposer(h_p, round)"
      if (m.validRound < -1 || m.validRound >= m.round) return undefined;
      const key = `${m.round}/${m.valueId}`;
      if (this.byValue.has(key)) return undefined;
      const prev = this.proposals.get(m.round);
      if (prev) {
        out.push({ type: 'evidence', first: prev, second: m });
        if (this.byValue.size >= MAX_PROPOSALS) return undefined;
      } else {
        this.proposals.set(m.round, m);
      }
      this.byValue.set(key, m);
      return this.votes.heard(m.round, m.from);
    }
    const { result, crossed } = this.votes.addVote(m);
    if (result === 'duplicate') return undefined;
    if (result !== 'added') out.push({ type: 'evidence', first: result.conflict, second: m }); // counted too: see votes.ts
    return crossed;
  }

  private valid(p: Proposal<V>): boolean {
    let v = this.validity.get(p.valueId);
    if (v === undefined) {
      v = this.opts.app.id(p.value) === p.valueId && this.opts.app.valid(this.height, p.value);
      this.validity.set(p.valueId, v);
    }
    return v;
  }

  private vote(kind: VoteKind, valueId: string | null, out: Effect<V>[]): void {
    if (this.opts.me === undefined) return; // observers follow without voting
    this.broadcast({ type: kind, from: this.opts.me, height: this.height, round: this.round, valueId }, out);
  }

  private snapshot(): string {
    return snapshotKey(
      this.round, this.step, this.lockedRound, this.lockedValue === null ? undefined : this.opts.app.id(this.lockedValue),
      this.validRound, this.validValue === null ? undefined : this.opts.app.id(this.validValue),
    );
  }

  /**
   * Emit `persist` when the safety state changed since the last record, and before the
   * first message of the height in any case (so that no signed message is ever on disk
   * without a record at least as recent). Observers send nothing and persist nothing.
   */
  private checkpoint(out: Effect<V>[], beforeSend: boolean): void {
    if (this.opts.me === undefined || this.decided) return;
    const now = this.snapshot();
    if (this.persisted === now) return;
    if (this.persisted === undefined && !beforeSend && now === snapshotKey(0, Step.Propose, -1, undefined, -1, undefined)) return; // nothing to remember yet
    this.persisted = now;
    const id = this.opts.app.id;
    out.push({
      type: 'persist',
      state: {
        height: this.height, round: this.round, step: this.step,
        locked: this.lockedValue === null ? null : { round: this.lockedRound, value: this.lockedValue, valueId: id(this.lockedValue) },
        valid: this.validValue === null ? null : { round: this.validRound, value: this.validValue, valueId: id(this.validValue), polka: this.validPolka },
      },
    });
  }

  /** Never two different signed messages for one height, round and step: resend the first. */
  private broadcast(m: ConsensusMessage<V>, out: Effect<V>[]): void {
    this.checkpoint(out, true); // what this message depends on is on disk before it leaves
    const key = signedKey(m);
    const already = this.signed.get(key);
    const msg = already ?? m;
    if (!already) this.signed.set(key, m);
    out.push({ type: 'broadcast', msg });
    this.handleOwn(msg, out); // we hear ourselves
  }

  /** Our own message, as any other: tallied, and its rules run (the caller's rule has moved the step already). */
  private handleOwn(m: ConsensusMessage<V>, out: Effect<V>[]): void {
    const crossed = this.record(m, out);
    if (!crossed) return;
    if (m.type === 'proposal') this.onProposal(m, out);
    this.onThresholds(crossed, out);
  }

  private schedule(step: Step, round: number, out: Effect<V>[]): void {
    const t = this.timeouts;
    const ms = step === Step.Propose ? t.proposeBaseMs + t.proposeDeltaMs * round
      : step === Step.Prevote ? t.prevoteBaseMs + t.prevoteDeltaMs * round
        : t.precommitBaseMs + t.precommitDeltaMs * round;
    out.push({ type: 'schedule', timeout: { type: 'timeout', step, height: this.height, round }, afterMs: ms });
  }
}

export type { Vote };
