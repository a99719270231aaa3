/**
 * The consensus runner: runs the pure core (./core.ts), one core per height, and carries
 * out its effects through ports (./ports.ts): persist the safety state, sign and record
 * what is sent before it leaves, send, arm timeouts, commit the decided block. It holds
 * the one buffer of messages for heights above ours, replayed when we get there, and
 * restores each height's record before taking part in it (./record.ts, docs/consensus.md
 * "Crash recovery").
 *
 * All work on the core runs one step at a time. A step that must not fail (a record not
 * written, the core throwing) stops consensus: nothing more is signed or sent, the error
 * is logged with E_CONSENSUS_HALTED and `onFatal` tells the node, which stops. Failures
 * that are expected are handled where they happen: a block the store refuses to commit
 * runs its height again; an invalid proposal gets a nil prevote.
 *
 * Without a record log and a wire it is the lone validator: the core decides in one step
 * and nothing is persisted or sent.
 */
import { type Block, type CommitCertificate, type SignedVote, encodePeerMessage, headerHash, toHex } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { NodeMetrics } from '../metrics.js';
import { TendermintCore, signedKey } from './core.js';
import { recordEvidence } from './evidence.js';
import { type BlockValue, idHash, toCoreMessage } from './messages.js';
import type { ChainPort, ConsensusLog, ConsensusWire, MessageSigner, Scheduler, SignedMessage } from './ports.js';
import { RecordError, type Restored, STATE_CORRUPT, encodeSafetyState, restoreRecord } from './record.js';
import { type Effect, type SafetyState, type Timeouts, type Validator, type ValidatorSets, type Vote } from './types.js';

/** Most messages kept for heights above ours (they arrive early under reordering). */
const MAX_FUTURE = 10_000;
const STEP_NAMES = ['propose', 'prevote', 'precommit'] as const;
export const HALTED = 'E_CONSENSUS_HALTED';

export interface RunnerOptions {
  /** The set of each height; the runner asks for the next height's only (always known). */
  readonly sets: ValidatorSets;
  /** Our id, or undefined for an observer; at a height whose set lacks it, it follows and never votes. */
  readonly me: string | undefined;
  /**
   * Hex of the key we sign with: at a height whose set holds `me` with another key (a
   * rotation in force before we restarted with the new key), we follow and never vote.
   * Absent: sets without keys (tests that sign by id). Several: the keys of a rotation under
   * way (the old and the next one, ./signer.ts; the set may grow), we vote where the set names either.
   */
  readonly myKey?: string | { has(publicKeyHex: string): boolean };
  readonly timeouts: Timeouts;
  readonly scheduler: Scheduler;
  readonly signer: MessageSigner;
  readonly chain: ChainPort;
  /** Where the record is kept and where messages go; both absent for a lone validator. */
  readonly log: ConsensusLog | undefined;
  readonly wire: ConsensusWire | undefined;
  readonly evidence: (bytes: Uint8Array) => Promise<void>;
  readonly metrics: Pick<NodeMetrics, 'consensusRound' | 'consensusTimeout' | 'consensusStateUnrestorable' | 'evidence'>;
  readonly logger: Logger;
  /** A message arrived for a height above the next: we are behind (sync). */
  readonly onBehind?: () => void;
  /** The height moved on (committed by consensus or by sync). */
  readonly onHeight?: (committed: number) => void;
  /** Consensus stopped on a failure; the node should stop. */
  readonly onFatal: (err: Error) => void;
}

export class ConsensusRunner {
  private core: TendermintCore<BlockValue>;
  private work: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private readonly timers = new Set<() => void>();
  /** Validity of the blocks proposed at this height, by id (valid() of the core). */
  private valid = new Map<string, boolean>();
  private future: { m: SignedMessage; headerProblem: string | undefined }[] = [];
  /** What we signed at this height, to send again with each status: peers that were away get it. */
  private sent = new Map<string, SignedMessage>();
  /** The polka behind our valid value, as it travels: sent again with each status (peers need it, line 28). */
  private polka: readonly SignedVote[] = [];
  /** The polka of the last state saved, as the core holds it, signed and encoded: one encoding per valid value, not per save. */
  private polkaSaved: { readonly of: readonly Vote[]; readonly signed: readonly SignedVote[]; readonly bytes: readonly Uint8Array[] } | undefined;
  /** A safety state to write with the next signed message (or alone at the end of the step). */
  private pendingState: SafetyState<BlockValue> | undefined;
  /** Blocks the record of this height holds already, by id. */
  private recordBlocks = new Set<string>();
  /** Why we do not vote at this height: its record could not be restored. */
  private unrestorable: string | undefined;
  /** Why consensus stopped on a failure: `E_CONSENSUS_HALTED: <what failed>`. */
  private failed: string | undefined;

  constructor(private readonly opts: RunnerOptions) {
    this.core = this.newCore(undefined);
  }

  get height(): number {
    return this.core.height;
  }

  get round(): number {
    return this.core.round;
  }

  /** Set while this validator follows without voting: its record of this height could not be restored. */
  get stateProblem(): string | undefined {
    return this.unrestorable;
  }

  /** The validator set of the current height. */
  get validators(): readonly Validator[] {
    return this.setOf(this.core.height);
  }

  /** Do we vote at the current height (in its set, its record restored)? */
  get voting(): boolean {
    return this.votesAt(this.core.height) && this.unrestorable === undefined;
  }

  private setOf(height: number): readonly Validator[] {
    const set = this.opts.sets(height);
    // VALSET_DELAY >= 1: the set of head + 1 follows from the committed chain.
    if (!set) throw new Error(`the validator set of height ${height} is not known`);
    return set;
  }

  private votesAt(height: number): boolean {
    const { me, myKey } = this.opts;
    const mine = (k: string): boolean => (typeof myKey === 'string' ? k === myKey : myKey!.has(k));
    return me !== undefined && this.setOf(height).some((v) => v.id === me && (myKey === undefined || v.publicKey === undefined || mine(v.publicKey)));
  }

  /** Has the current height started here (a block was due, or a peer started it)? */
  get heightStarted(): boolean {
    return this.started;
  }

  /** Stopped: by stop(), or on a failure (`failure`). */
  get halted(): boolean {
    return this.stopped;
  }

  /** Set once a step that must not fail failed: `E_CONSENSUS_HALTED: <what failed>`. */
  get failure(): string | undefined {
    return this.failed;
  }

  /** Restore the record of the next height; start it at once if it was under way. */
  async open(): Promise<void> {
    const restored = await this.restore(this.opts.chain.head().height + 1);
    this.core = this.newCore(restored);
    if (restored?.state) this.startHeight();
  }

  /** Start the current height, if it has not started. */
  startHeight(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.enqueue(() => this.apply(this.core.handle({ type: 'start' })));
  }

  /**
   * A proposal or vote from a peer whose signature checked out (./peer-input.ts). For a
   * proposal, `headerProblem` is what is wrong with its header for its round, if anything.
   */
  deliver(m: SignedMessage, headerProblem?: string): void {
    if (this.stopped) return;
    const h = this.core.height;
    if (m.height < h) return;
    if (m.height > h) {
      if (this.future.length < MAX_FUTURE) this.future.push({ m, headerProblem });
      if (m.height > h + 1) this.opts.onBehind?.();
      return;
    }
    if (m.t === 'proposal' && !this.valid.has(toHex(m.blockHash))) {
      // Checked before it enters the queue, so that votes keep flowing meanwhile.
      const ok = headerProblem === undefined ? this.opts.chain.check(m.block) : Promise.resolve(false);
      void ok.then((v) => {
        if (this.core.height !== m.height) return; // the height moved on while we checked
        this.valid.set(toHex(m.blockHash), v);
        this.take(m);
      });
      return;
    }
    this.take(m);
  }

  private take(m: SignedMessage): void {
    this.enqueue(async () => {
      if (this.core.height !== m.height) return;
      if (!this.started && this.opts.me !== undefined) {
        this.started = true; // a peer started this height: join it
        await this.apply(this.core.handle({ type: 'start' }));
        if (this.core.height !== m.height) return;
      }
      await this.apply(this.core.handle(toCoreMessage(m)));
    });
  }

  /**
   * A block for the next height with a certificate (sync): committed if its certificate
   * and the block check out ('committed'), 'stale' if the head is past it already (or
   * consensus is stopped). Rejects naming what is wrong with it.
   */
  commitSynced(block: Block, commit: CommitCertificate): Promise<'committed' | 'stale'> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return resolve('stale');
      this.enqueue(async () => {
        const head = this.opts.chain.head().height;
        if (head >= block.header.height) return resolve('stale'); // consensus got there first
        if (block.header.height !== head + 1) return reject(new Error(`a block of height ${block.header.height}, not ${head + 1}`));
        const problem = this.opts.signer.commitProblem(block.header, commit);
        if (problem) return reject(new Error(`commit certificate: ${problem}`));
        if (!(await this.opts.chain.check(block))) return reject(new Error('the block is not valid on our head'));
        try {
          await this.opts.chain.commit(block, commit);
        } catch (e) {
          return reject(e);
        }
        resolve('committed');
        await this.nextHeight(); // a failure here is the runner's (fatal), not the sync's
      });
    });
  }

  /** What we signed at this height, the polka behind our valid value and the precommits that moved us to this round: to send again. */
  resend(): SignedMessage[] {
    const mine = this.opts.me;
    const moved = this.core.lastRoundPrecommits().filter((v) => v.from !== mine && (v as Vote & { signature?: Uint8Array }).signature);
    return [...this.sent.values(), ...this.polka, ...moved.map((v) => this.signedVote(v))];
  }

  /** Wait for the work queued so far. */
  idle(): Promise<void> {
    return this.work;
  }

  /** Stop: no more steps; timers cancelled; waits for the step under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    await this.work;
  }

  private enqueue(step: () => Promise<void> | void): void {
    this.work = this.work.then(() => (this.stopped ? undefined : step())).catch((e: unknown) => this.fatal(e));
  }

  private fatal(e: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    const err = e instanceof Error ? e : new Error(String(e));
    this.failed = `${HALTED}: ${err.message}`;
    this.opts.logger.error({ code: HALTED, height: this.core.height, round: this.core.round, err }, 'a consensus step failed: consensus stops and signs nothing more; the node stops');
    this.opts.onFatal(err);
  }

  /** The core of the next height, from its restored record (none: a fresh height, or not voting at it). */
  private newCore(restored: Restored | undefined): TendermintCore<BlockValue> {
    const height = this.opts.chain.head().height + 1;
    return new TendermintCore<BlockValue>({
      validators: this.setOf(height),
      // Not restored, or not in this height's set: it follows, as an observer does.
      me: this.unrestorable === undefined && this.votesAt(height) ? this.opts.me : undefined,
      timeouts: this.opts.timeouts,
      height,
      signed: restored?.signed ?? new Map(),
      ...(restored?.state ? { restored: restored.state } : {}),
      app: {
        id: (v) => v.id,
        propose: (h) => {
          const v = this.opts.chain.propose(h);
          this.valid.set(v.id, true); // ours, made valid on our head
          return v;
        },
        valid: (_h, v) => this.valid.get(v.id) === true,
      },
    });
  }

  /** Carry out the core's effects, in order. */
  private async apply(effects: Effect<BlockValue>[]): Promise<void> {
    this.opts.metrics.consensusRound(this.core.height, this.core.round);
    for (const e of effects) {
      if (this.stopped) return;
      switch (e.type) {
        case 'persist':
          if (this.opts.log) this.pendingState = e.state; // alone nothing leaves: nothing to stay consistent with
          break;
        case 'broadcast':
          await this.send(e.msg);
          break;
        case 'schedule': {
          const cancel = this.opts.scheduler.after(e.afterMs, () => {
            this.timers.delete(cancel);
            this.enqueue(() => {
              if (e.timeout.height === this.core.height && e.timeout.round === this.core.round) this.opts.metrics.consensusTimeout(STEP_NAMES[e.timeout.step]);
              return this.apply(this.core.handle(e.timeout));
            });
          });
          this.timers.add(cancel);
          break;
        }
        case 'decide':
          await this.commitDecided(e.value, e.round, e.precommits);
          return; // the core of this height is done; effects after a decision are moot
        case 'evidence':
          await recordEvidence(e.first, e.second, this.opts.scheduler.now(), this.opts.evidence, this.opts.metrics, this.opts.logger);
          break;
      }
    }
    if (this.pendingState) await this.saveRecord(undefined); // a state change no message followed
  }

  /**
   * Sign, persist (the message and the safety state it depends on, in one synced write,
   * before it leaves: never two different messages for one step, never a vote the lock
   * forbids after a restart), send.
   */
  private async send(m: Parameters<MessageSigner['sign']>[0]): Promise<void> {
    const signed = this.opts.signer.sign(m);
    if (!this.opts.wire || !this.opts.log) return; // alone: nothing leaves, nothing to contradict
    await this.saveRecord({ round: m.round, type: m.type, bytes: encodePeerMessage(signed) });
    this.sent.set(signedKey(m), signed);
    this.opts.wire(signed);
  }

  /** Write the pending safety state (with the blocks it names, once each) and `signed`, as one synced write. */
  private async saveRecord(signed: { round: number; type: string; bytes: Uint8Array } | undefined): Promise<void> {
    const st = this.pendingState;
    this.pendingState = undefined;
    const log = this.opts.log!;
    const height = this.core.height;
    if (!st) return log.save(height, { ...(signed ? { signed } : {}) });
    const of = st.valid?.polka ?? [];
    if (this.polkaSaved?.of !== of) {
      const signed = of.map((v) => this.signedVote(v));
      this.polkaSaved = { of, signed, bytes: signed.map((v) => encodePeerMessage(v)) };
    }
    const polka = this.polkaSaved.signed;
    const blocks = [st.locked, st.valid].filter((x): x is NonNullable<typeof x> => x !== null && !this.recordBlocks.has(x.valueId))
      .filter((x, i, all) => all.findIndex((y) => y.valueId === x.valueId) === i)
      .map((x) => ({ hash: headerHash(x.value.block.header), bytes: x.value.bytes, id: x.valueId }));
    await log.save(height, { state: encodeSafetyState(st, this.polkaSaved.bytes), blocks, ...(signed ? { signed } : {}) });
    for (const b of blocks) this.recordBlocks.add(b.id);
    this.polka = polka;
  }

  /** A vote as it travels: a peer's with its signature, ours signed again (deterministic). */
  private signedVote(v: Vote): SignedVote {
    const signature = (v as Vote & { signature?: Uint8Array }).signature;
    if (signature) return { t: v.type, from: v.from, height: v.height, round: v.round, blockHash: idHash(v.valueId), signature };
    if (v.from !== this.opts.me) throw new Error(`a vote of ${v.from} without its signature`);
    return this.opts.signer.sign(v) as SignedVote;
  }

  private async commitDecided(value: BlockValue, round: number, precommits: readonly Vote[]): Promise<void> {
    const blockHash = headerHash(value.block.header);
    const commit: CommitCertificate = { height: value.block.header.height, round, blockHash, signatures: precommits.map((v) => ({ validator: v.from, signature: this.signedVote(v).signature })) };
    try {
      await this.opts.chain.commit(value.block, commit);
    } catch (e) {
      // The store refused (disk full ...): nothing changed. Run the height again, so that
      // block production resumes by itself once the store takes writes again.
      this.opts.logger.error({ err: e, height: value.block.header.height }, 'storing the decided block failed; the height will run again');
    }
    await this.nextHeight();
  }

  /** After a commit (or a failed one): the next height's core, from its record, and what came early for it. */
  private async nextHeight(): Promise<void> {
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.started = false;
    this.valid = new Map();
    this.sent = new Map();
    const committed = this.opts.chain.head().height;
    const h = committed + 1;
    if (this.opts.log) await this.opts.log.prune(h - 1);
    const restored = await this.restore(h);
    this.core = this.newCore(restored);
    this.opts.onHeight?.(committed);
    if (restored?.state) this.startHeight(); // the same height again (its block was not stored): under way
    const early = this.future.filter((x) => x.m.height === h);
    this.future = this.future.filter((x) => x.m.height > h);
    for (const x of early) this.deliver(x.m, x.headerProblem);
  }

  /**
   * Read and check the record of `height` before taking part in it. One that cannot be
   * trusted (E_CONSENSUS_STATE_CORRUPT) means we may have promised something we no longer
   * know: we do not vote at this height, we follow it (and vote again at the next).
   */
  private async restore(height: number): Promise<Restored | undefined> {
    this.unrestorable = undefined;
    this.polka = [];
    this.polkaSaved = undefined;
    this.pendingState = undefined;
    this.recordBlocks = new Set();
    const me = this.opts.me;
    if (!this.opts.log || me === undefined || !this.votesAt(height)) return undefined;
    let r: Restored;
    try {
      r = restoreRecord(await this.opts.log.load(height), { height, me, validators: this.setOf(height), verify: (m) => this.opts.signer.verify(m) });
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      this.unrestorable = `${e.code}: ${e.message}`;
      this.opts.metrics.consensusStateUnrestorable(true);
      this.opts.logger.error({ code: STATE_CORRUPT, height, err: e.message }, 'consensus record cannot be restored: this validator does not vote at this height, it follows the others');
      return undefined;
    }
    this.opts.metrics.consensusStateUnrestorable(false);
    for (const [k, m] of r.signedMessages) this.sent.set(k, m);
    for (const m of r.signed.values()) if (m.type === 'proposal') this.valid.set(m.valueId, await this.opts.chain.check(m.value.block));
    for (const v of [r.state?.locked, r.state?.valid]) {
      if (!v) continue;
      this.recordBlocks.add(v.valueId);
      if (!this.valid.has(v.valueId)) this.valid.set(v.valueId, await this.opts.chain.check(v.value.block));
    }
    this.polka = r.polka;
    if (r.state) {
      this.opts.logger.info({ height, round: r.state.round, locked: r.state.locked?.round ?? -1, valid: r.state.valid?.round ?? -1 }, 'consensus record restored');
    }
    return r;
  }
}
