/**
 * The consensus core: Tendermint's Algorithm 1 ("The latest gossip on BFT consensus",
 * arXiv 1807.04938) as a state machine. `handle(event)` returns effects; the core does no
 * I/O and reads no clock: messages, timeouts and "the next height may start" come in as
 * events, and broadcasts, timeout requests and decisions go out as effects. Line numbers
 * in comments are those of Algorithm 1. Voting power replaces counting: "2f+1" is more
 * than 2/3 of the total power, "f+1" more than 1/3.
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
import { HeightVotes } from './votes.js';

/** Most messages kept for heights above ours (they arrive early under reordering). */
const MAX_FUTURE = 10_000;
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
    const votes = new HeightVotes(validators);
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
  private proposals = new Map<number, Proposal<V>>();
  /**
   * Every proposal of each round by value id, a few at most: an equivocating proposer may
   * send another value to others, and it is that one a 2f+1 polka or commit names (36, 49).
   */
  private byValue = new Map<string, Proposal<V>>();
  private votes: HeightVotes;
  /** Validators heard from, per round of this height (line 55). */
  private senders = new Map<number, Set<string>>();
  /** "for the first time" guards of lines 34, 36 and 47, by round. */
  private once = new Set<string>();
  private validity = new Map<string, boolean>();
  private future: ConsensusMessage<V>[] = [];
  private readonly signed: Map<string, ConsensusMessage<V>>;
  private readonly timeouts: Timeouts;
  private readonly totalPower: number;

  constructor(private readonly opts: CoreOptions<V>) {
    this.height = opts.height;
    this.votes = new HeightVotes(opts.validators);
    this.signed = new Map(opts.signed ?? []);
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.totalPower = opts.validators.reduce((s, v) => s + v.power, 0);
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
      for (const v of this.validPolka) this.onMessage(v, []);
      this.persisted = this.snapshot();
    }
    // What we signed before a restart still counts: we sent it, others may hold it.
    for (const m of this.signed.values()) if (m.height === this.height) this.onMessage(m, []);
  }

  get isDecided(): boolean {
    return this.decided;
  }

  proposer(height: number, round: number): string {
    return proposerOf(this.opts.validators, height, round);
  }

  /** Messages this node signed (for re-gossip and for persisting). */
  signedMessages(): ConsensusMessage<V>[] {
    return [...this.signed.values()].filter((m) => m.height === this.height);
  }

  /** The polka behind our valid value: peers need it to accept that value proposed again (line 28). */
  polkaMessages(): readonly Vote[] {
    return this.validPolka;
  }

  /** Feed one event; returns the effects it causes. */
  handle(ev: ConsensusEvent<V>): Effect<V>[] {
    const out: Effect<V>[] = [];
    switch (ev.type) {
      case 'start':
        if (!this.started) {
          this.started = true;
          if (this.opts.restored) this.resume(out);
          else this.startRound(0, out); // line 10: upon start do StartRound(0)
        }
        break;
      case 'timeout':
        this.onTimeout(ev, out);
        break;
      default:
        this.onMessage(ev, out);
    }
    this.evaluate(out);
    this.checkpoint(out, false);
    return out;
  }

  /**
   * Back in the round and step of the restored record. A step is entered together with
   * its vote (lines 24-27, 40-41, 45-46, 58-59, 62-63), but a crash can fall between the
   * record and the vote's own write: then the vote was never sent, and we send nil,
   * which is safe in any state. The "upon 2f+1" rules (34, 47) fire again as votes come
   * back, our own included, so no timer needs arming beyond what they arm.
   */
  private resume(out: Effect<V>[]): void {
    if (this.step === Step.Propose) {
      this.startRound(this.round, out); // lines 11-19 again: the same proposal if we signed one
      return;
    }
    if (!this.signed.has(signedKey({ height: this.height, round: this.round, type: 'prevote' }))) this.vote('prevote', null, out);
    if (this.step === Step.Precommit && !this.signed.has(signedKey({ height: this.height, round: this.round, type: 'precommit' }))) this.vote('precommit', null, out);
  }

  /** After the adapter stored the decision: move to the next height (lines 52-54). */
  nextHeight(): Effect<V>[] {
    if (!this.decided) return [];
    const out: Effect<V>[] = [];
    this.height += 1;
    this.lockedValue = null; // line 53
    this.lockedRound = -1;
    this.validValue = null;
    this.validRound = -1;
    this.decided = false;
    this.persisted = undefined;
    this.validPolka = [];
    this.proposals = new Map();
    this.byValue = new Map();
    this.votes = new HeightVotes(this.opts.validators);
    this.senders = new Map();
    this.once = new Set(['started']);
    this.validity = new Map();
    for (const k of this.signed.keys()) if (Number(k.split('/')[0]) < this.height - 1) this.signed.delete(k);
    this.startRound(0, out); // line 54
    const early = this.future.filter((m) => m.height === this.height);
    this.future = this.future.filter((m) => m.height > this.height);
    for (const m of early) this.onMessage(m, out);
    this.evaluate(out);
    return out;
  }

  // line 11: Function StartRound(round)
  private startRound(round: number, out: Effect<V>[]): void {
    this.round = round;
    this.step = Step.Propose; // line 12
    if (this.opts.me !== undefined && this.proposer(this.height, round) === this.opts.me) { // line 13
      const value = this.validValue ?? this.opts.app.propose(this.height); // lines 14-16
      this.broadcast({ type: 'proposal', from: this.opts.me, height: this.height, round, value, valueId: this.opts.app.id(value), validRound: this.validRound }, out); // line 17
    } else {
      this.schedule(Step.Propose, round, out); // line 19
    }
  }

  private onTimeout(t: TimeoutEvent, out: Effect<V>[]): void {
    if (t.height !== this.height || t.round !== this.round || this.decided) return;
    // The step moves before the vote leaves, so that the record persisted with it says so.
    if (t.step === Step.Propose && this.step === Step.Propose) { // line 57-60
      this.step = Step.Prevote;
      this.vote('prevote', null, out);
    } else if (t.step === Step.Prevote && this.step === Step.Prevote) { // line 61-64
      this.step = Step.Precommit;
      this.vote('precommit', null, out);
    } else if (t.step === Step.Precommit) { // line 65-67
      this.startRound(this.round + 1, out);
    }
  }

  private onMessage(m: ConsensusMessage<V>, out: Effect<V>[]): void {
    if (!this.opts.validators.some((v) => v.id === m.from)) return; // only validators speak
    if (m.height > this.height) {
      if (this.future.length < MAX_FUTURE) this.future.push(m);
      return;
    }
    if (m.height < this.height || m.round < 0 || !Number.isSafeInteger(m.round)) return;
    if (m.type === 'proposal') {
      if (m.from !== this.proposer(m.height, m.round)) return; // "from proposer(h_p, round)"
      if (m.validRound < -1 || m.validRound >= m.round) return;
      const key = `${m.round}/${m.valueId}`;
      if (this.byValue.has(key)) return;
      const prev = this.proposals.get(m.round);
      if (prev) {
        out.push({ type: 'evidence', first: prev, second: m });
        if (this.byValue.size >= MAX_PROPOSALS) return;
      } else {
        this.proposals.set(m.round, m);
      }
      this.byValue.set(key, m);
    } else {
      const r = this.votes.set(m.round, m.type).add(m);
      if (r === 'duplicate') return;
      if (r !== 'added') out.push({ type: 'evidence', first: r.conflict, second: m }); // counted too: see votes.ts
    }
    let s = this.senders.get(m.round);
    if (!s) this.senders.set(m.round, (s = new Set()));
    s.add(m.from);
  }

  private valid(p: Proposal<V>): boolean {
    let v = this.validity.get(p.valueId);
    if (v === undefined) {
      v = this.opts.app.id(p.value) === p.valueId && this.opts.app.valid(this.height, p.value);
      this.validity.set(p.valueId, v);
    }
    return v;
  }

  /** Fire every "upon" rule whose condition holds, until none does. */
  private evaluate(out: Effect<V>[]): void {
    for (let guard = 0; guard < 1000; guard++) {
      if (!this.fireOne(out)) return;
    }
  }

  private fireOne(out: Effect<V>[]): boolean {
    const { height: h, round: r } = this;

    // line 49: a proposal and 2f+1 precommits for it, in any round, decide.
    if (!this.decided) {
      for (const p of this.byValue.values()) {
        const pr = p.round;
        const pcs = this.votes.set(pr, 'precommit');
        if (this.votes.quorum(pcs.power(p.valueId)) && this.valid(p)) { // line 50
          this.decided = true; // line 51; lines 52-54 wait for nextHeight()
          out.push({ type: 'decide', height: h, round: pr, value: p.value, valueId: p.valueId, proposal: p, precommits: pcs.votesFor(p.valueId) });
          return false;
        }
      }
    } else {
      return false;
    }

    // line 55: f+1 of the power speaks in a higher round: skip to it.
    for (const [sr, who] of this.senders) {
      if (sr > r && this.votes.oneThird(this.votes.roundPower(sr, who))) {
        this.startRound(sr, out);
        return true;
      }
    }

    const p = this.proposals.get(r);
    if (this.step === Step.Propose && p) {
      if (p.validRound === -1) { // line 22
        const ok = this.valid(p) && (this.lockedRound === -1 || this.opts.app.id(this.lockedValue!) === p.valueId); // line 23
        this.step = Step.Prevote; // line 27
        this.vote('prevote', ok ? p.valueId : null, out); // lines 24-25
        return true;
      }
      const polka = this.votes.set(p.validRound, 'prevote'); // line 28
      if (this.votes.quorum(polka.power(p.valueId))) {
        const ok = this.valid(p) && (this.lockedRound <= p.validRound || this.opts.app.id(this.lockedValue!) === p.valueId); // line 29
        this.step = Step.Prevote; // line 33
        this.vote('prevote', ok ? p.valueId : null, out); // lines 30-31
        return true;
      }
    }

    const prevotes = this.votes.set(r, 'prevote');
    if (this.step === Step.Prevote && this.votes.quorum(prevotes.anyPower) && !this.once.has(`34/${r}`)) { // line 34
      this.once.add(`34/${r}`);
      this.schedule(Step.Prevote, r, out); // line 35
      return true;
    }

    const polkaValue = this.once.has(`36/${r}`) ? undefined : prevotes.values().find((id) => this.votes.quorum(prevotes.power(id)));
    const pv = polkaValue === undefined ? undefined : this.byValue.get(`${r}/${polkaValue}`);
    if (pv && this.step >= Step.Prevote && this.valid(pv)) { // line 36
      this.once.add(`36/${r}`);
      // Lock and valid value change before the precommit leaves: persisted with it.
      this.validValue = pv.value; // line 42
      this.validRound = r; // line 43
      this.validPolka = prevotes.votesFor(pv.valueId);
      if (this.step === Step.Prevote) { // line 37
        this.lockedValue = pv.value; // line 38
        this.lockedRound = r; // line 39
        this.step = Step.Precommit; // line 41
        this.vote('precommit', pv.valueId, out); // line 40
      }
      return true;
    }

    if (this.step === Step.Prevote && this.votes.quorum(prevotes.power(null))) { // line 44
      this.step = Step.Precommit; // line 46
      this.vote('precommit', null, out); // line 45
      return true;
    }

    const precommits = this.votes.set(r, 'precommit');
    if (this.votes.quorum(precommits.anyPower) && !this.once.has(`47/${r}`)) { // line 47
      this.once.add(`47/${r}`);
      this.schedule(Step.Precommit, r, out); // line 48
      return true;
    }
    return false;
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
    this.onMessage(msg, out); // we hear ourselves
    out.push({ type: 'broadcast', msg });
  }

  private schedule(step: Step, round: number, out: Effect<V>[]): void {
    const t = this.timeouts;
    const ms = step === Step.Propose ? t.proposeBaseMs + t.proposeDeltaMs * round
      : step === Step.Prevote ? t.prevoteBaseMs + t.prevoteDeltaMs * round
        : t.precommitBaseMs + t.precommitDeltaMs * round;
    out.push({ type: 'schedule', timeout: { type: 'timeout', step, height: this.height, round }, afterMs: ms });
  }

  /** For tests and status: the total voting power. */
  get power(): number {
    return this.totalPower;
  }
}

export type { Vote };
