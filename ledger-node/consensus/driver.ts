/**
 * The consensus driver: the only code between the pure Tendermint core (./core.ts) and
 * the world. It turns peer messages into core events (after checking their signatures
 * and, for proposals, the whole block), carries out the core's effects (sign, persist
 * what was signed, send, arm timeouts, commit), decides when a height starts (a block
 * waits for transactions: none while idle), gossips accepted transactions, and fetches
 * missed blocks from peers (sync). All work on the core runs one step at a time.
 *
 * With one validator and no transport it is the single gateway: the core decides in
 * one step and nothing is sent anywhere.
 */
import type { KeyObject } from 'node:crypto';
import {
  Alg, type Block, type CommitCertificate, type Genesis, decodeBlock, decodeCommit, decodeKey, decodeTx,
  commitProblem, encodeBlock, equalBytes, headerHash, makeHeader, toHex,
} from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { ChainWriter } from '../chain.js';
import { KeyObjectCache, nativeSign, nativeVerify } from '../crypto/native.js';
import type { Intake } from '../intake.js';
import type { Mempool } from '../mempool.js';
import type { NodeMetrics } from '../metrics.js';
import type { PeerTransport } from '../p2p/transport.js';
import type { Registry } from '../registry.js';
import { type MeterRecord, requiredSigner } from '../rules.js';
import type { LedgerStore } from '../store/store.js';
import { InvalidTxError, type TxContext, checkTxs, selectTxs, verifyTxSignature } from '../validate.js';
import { TendermintCore, signedKey } from './core.js';
import {
  type BlockValue, type PeerMessage, type SignedProposal, type SignedVote, decodePeerMessage, decodeSyncAnswer, decodeSyncRequest, decodeTxBatch,
  encodePeerMessage, encodeSyncAnswer, encodeSyncRequest, encodeTxBatch, idHash, proposalSignBytes, toCoreMessage, voteBytesOf,
} from './messages.js';
import { RecordError, type Restored, STATE_CORRUPT, encodeSafetyState, restoreRecord } from './record.js';
import { type ConsensusMessage, DEFAULT_TIMEOUTS, type Effect, type SafetyState, type Timeouts, type Vote } from './types.js';

export type { BlockValue };

export interface DriverOptions {
  readonly genesis: Genesis;
  /** Our validator id, or undefined when this node is an observer. */
  readonly validatorId: string | undefined;
  readonly nodeKey: KeyObject;
  readonly blockIntervalMs: number;
  readonly blockMaxTxs: number;
  readonly timeouts?: Timeouts;
  /** How far ahead of our clock a proposed block's time may be. */
  readonly maxClockDriftMs?: number;
  readonly now: () => number;
}

const MAX_FUTURE = 10_000;
const STEP_NAMES = ['propose', 'prevote', 'precommit'] as const;
const STATUS_EVERY_MS = 2000;
const SYNC_TIMEOUT_MS = 5000;
/**
 * Gossip goes out in batches: one signed envelope (one Ed25519 signature to make, one to
 * check at each peer, one NATS message) per batch instead of per reading. A batch leaves
 * GOSSIP_FLUSH_MS after its first transaction, or at once when it is full.
 */
const GOSSIP_FLUSH_MS = 20;
const GOSSIP_MAX_TXS = 500;
const GOSSIP_MAX_BYTES = 1 << 20;

export class ConsensusDriver {
  private core: TendermintCore<BlockValue>;
  private work: Promise<void> = Promise.resolve();
  private started = false;
  private startTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Blocks checked at the current height: id -> what committing them changes. */
  private checked = new Map<string, { decoded: Awaited<ReturnType<typeof checkTxs>>['decoded']; changed: Map<string, MeterRecord> } | null>();
  /** Messages for heights above ours, replayed when we get there. */
  private future: PeerMessage[] = [];
  private readonly peerHeights = new Map<string, number>();
  private syncing = false;
  private quorum = false;
  private stopped = false;
  private statusTimer: NodeJS.Timeout | undefined;
  /** What we sent at the current height, re-sent with each status: peers that were away get it. */
  private sent = new Map<string, Uint8Array>();
  /** The polka behind our valid value, as sent: re-sent with each status (peers need it for line 28). */
  private polkaBytes: readonly Uint8Array[] = [];
  /** A safety state to write with the next signed message (or alone at the end of the step). */
  private pendingState: SafetyState<BlockValue> | undefined;
  /** Blocks the record of this height holds already, by id. */
  private recordBlocks = new Set<string>();
  /** Why this validator does not vote at the current height: its record could not be restored. */
  private unrestorable: string | undefined;
  private readonly keys = new KeyObjectCache();
  private readonly validatorKeys: Map<string, Uint8Array>;
  private gossipQueue: Uint8Array[] = [];
  private gossipBytes = 0;
  private gossipTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: DriverOptions,
    private readonly writer: ChainWriter,
    private readonly store: LedgerStore,
    private readonly mempool: Mempool,
    private readonly registry: Registry,
    private readonly intake: Intake,
    private readonly txctx: TxContext,
    private readonly transport: PeerTransport | undefined,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
  ) {
    this.validatorKeys = new Map(opts.genesis.validators.map((v) => [v.id, decodeKey(v).publicKey]));
    this.core = this.newCore(undefined);
  }

  /** Set while this validator follows without voting: its consensus record of this height could not be restored. */
  get stateProblem(): string | undefined {
    return this.unrestorable;
  }

  get height(): number {
    return this.core.height;
  }

  get round(): number {
    return this.core.round;
  }

  /** As last reported to metrics.peers(): the validators heard from hold more than 2/3 of the power. */
  get hasQuorum(): boolean {
    return this.quorum;
  }

  /**
   * Restore the record of the next height, start listening, and start if work waits or
   * the height was under way when we stopped (peers may be waiting for us).
   */
  async start(): Promise<void> {
    const restored = await this.restore(this.writer.head.height + 1);
    this.core = this.newCore(restored);
    if (restored?.state) this.startHeight();
    if (this.transport) {
      this.transport.onMessage((from, kind, payload) => this.onPeer(from, kind, payload));
      this.transport.onRequest((_from, payload) => this.answerSync(payload));
      this.statusTimer = setInterval(() => this.sendStatus(), STATUS_EVERY_MS);
      this.sendStatus();
    } else {
      // Alone: this validator's power is all the power there is.
      this.quorum = this.opts.validatorId !== undefined;
      this.metrics.peers(0, this.quorum);
    }
    this.poke();
  }

  /** Accepted transactions changed: start the height when a block is due. */
  poke(): void {
    if (this.stopped || this.started || this.opts.validatorId === undefined) return;
    const waiting = this.mempool.durableCount;
    if (waiting === 0) return;
    if (waiting >= this.opts.blockMaxTxs) {
      this.startHeight();
      return;
    }
    if (!this.startTimer) {
      // Counted from when the oldest waiting reading reached us, not from its durable
      // accept: a reading held up in the intake (a block being committed) should not
      // wait a whole interval more for its block.
      const age = performance.now() - (this.mempool.oldestReceivedAt() ?? performance.now());
      this.startTimer = setTimeout(() => {
        this.startTimer = undefined;
        this.startHeight();
      }, Math.max(0, this.opts.blockIntervalMs - age));
    }
  }

  /** Share a transaction we accepted with the other gateways (batched, in accept order). */
  gossip(bytes: Uint8Array): void {
    if (!this.transport || this.stopped) return;
    this.gossipQueue.push(bytes);
    this.gossipBytes += bytes.length;
    if (this.gossipQueue.length >= GOSSIP_MAX_TXS || this.gossipBytes >= GOSSIP_MAX_BYTES) this.flushGossip();
    else this.gossipTimer ??= setTimeout(() => this.flushGossip(), GOSSIP_FLUSH_MS);
  }

  private flushGossip(): void {
    clearTimeout(this.gossipTimer);
    this.gossipTimer = undefined;
    if (this.gossipQueue.length === 0) return;
    const batch = this.gossipQueue;
    this.gossipQueue = [];
    this.gossipBytes = 0;
    this.transport?.broadcast('tx', encodeTxBatch(batch));
  }

  private startHeight(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
    this.enqueue(() => this.apply(this.core.handle({ type: 'start' })));
  }

  private enqueue(f: () => Promise<void> | void): void {
    this.work = this.work.then(f).catch((e: unknown) => this.logger.error({ err: e }, 'consensus step failed'));
  }

  /** The core of the next height, from its restored record (none: a fresh height, or not voting at it). */
  private newCore(restored: Restored | undefined): TendermintCore<BlockValue> {
    const height = this.writer.head.height + 1;
    return new TendermintCore<BlockValue>({
      validators: this.opts.genesis.validators.map((v) => ({ id: v.id, power: v.power })),
      me: this.unrestorable === undefined ? this.opts.validatorId : undefined, // it follows, as an observer does
      timeouts: this.opts.timeouts ?? DEFAULT_TIMEOUTS,
      height,
      signed: restored?.signed ?? new Map(),
      ...(restored?.state ? { restored: restored.state } : {}),
      app: {
        id: (v) => v.id,
        propose: (h) => this.propose(h),
        valid: (_h, v) => this.checked.get(v.id) != null,
      },
    });
  }

  /** getValue(): the waiting transactions that are valid in order on the committed state. */
  private propose(height: number): BlockValue {
    const head = this.writer.head;
    const time = Math.max(this.opts.now(), head.time ?? 0);
    const waiting = this.mempool.peek(this.opts.blockMaxTxs * 2).map((p) => p.tx); // signatures were checked at intake
    const { decoded, changed } = selectTxs(this.txctx, this.registry.committed, waiting, time, this.opts.blockMaxTxs);
    const txs = decoded.map((t) => t.bytes);
    const header = makeHeader({
      chainId: this.opts.genesis.chainId, height, time, prevHash: head.hash,
      proposer: this.opts.validatorId!,
    }, txs);
    const block = { header, txs };
    const id = toHex(headerHash(header));
    this.checked.set(id, { decoded, changed });
    return { block, bytes: encodeBlock(block), id };
  }

  /** Carry out the core's effects, in order. */
  private async apply(effects: Effect<BlockValue>[]): Promise<void> {
    this.metrics.consensusRound(this.core.height, this.core.round);
    for (const e of effects) {
      if (this.stopped) return;
      switch (e.type) {
        case 'persist':
          // Alone nothing leaves, so there is nothing to stay consistent with.
          if (this.transport) this.pendingState = e.state;
          break;
        case 'broadcast':
          await this.send(e.msg);
          break;
        case 'schedule': {
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.enqueue(() => {
              if (e.timeout.height === this.core.height && e.timeout.round === this.core.round) this.metrics.consensusTimeout(STEP_NAMES[e.timeout.step]);
              return this.apply(this.core.handle(e.timeout));
            });
          }, e.afterMs);
          this.timers.add(t);
          break;
        }
        case 'decide':
          await this.commitDecided(e.value, e.round, e.precommits);
          return; // the core of this height is done; effects after a decision are moot
        case 'evidence':
          await this.recordEvidence(e.first, e.second);
          break;
      }
    }
    if (this.pendingState) await this.saveRecord(undefined); // a state change no message followed
  }

  /**
   * Sign, persist (the message and the safety state it depends on, in one synced batch,
   * before it leaves: never two different messages for one step, never a vote the lock
   * forbids after a restart), send.
   */
  private async send(m: ConsensusMessage<BlockValue>): Promise<void> {
    const pm = this.sign(m);
    if (!this.transport) return; // alone: nothing leaves, nothing to contradict
    const bytes = encodePeerMessage(pm);
    await this.saveRecord({ round: m.round, type: m.type, bytes });
    this.sent.set(signedKey(m), bytes);
    this.transport.broadcast('consensus', bytes);
  }

  /** Write the pending safety state (with the blocks it names, once each) and `signed`, as one synced batch. */
  private async saveRecord(signed: { round: number; type: string; bytes: Uint8Array } | undefined): Promise<void> {
    const st = this.pendingState;
    this.pendingState = undefined;
    const height = this.core.height;
    if (!st) return this.store.saveConsensus(height, { ...(signed ? { signed } : {}) });
    const polka = (st.valid?.polka ?? []).map((v) => this.voteBytes(v));
    const blocks = [st.locked, st.valid].filter((x): x is NonNullable<typeof x> => x !== null && !this.recordBlocks.has(x.valueId))
      .filter((x, i, all) => all.findIndex((y) => y.valueId === x.valueId) === i)
      .map((x) => ({ hash: headerHash(x.value.block.header), bytes: x.value.bytes, id: x.valueId }));
    await this.store.saveConsensus(height, { state: encodeSafetyState(st, polka), blocks, ...(signed ? { signed } : {}) });
    for (const b of blocks) this.recordBlocks.add(b.id);
    this.polkaBytes = polka;
  }

  /** A vote as it travels: a peer's with its signature, ours signed again (Ed25519 is deterministic). */
  private voteBytes(v: Vote): Uint8Array {
    const signature = (v as Vote & { signature?: Uint8Array }).signature;
    if (signature) return encodePeerMessage({ t: v.type, from: v.from, height: v.height, round: v.round, blockHash: idHash(v.valueId), signature });
    if (v.from !== this.opts.validatorId) throw new Error(`a vote of ${v.from} without its signature`);
    return encodePeerMessage(this.sign(v));
  }

  private sign(m: ConsensusMessage<BlockValue>): SignedProposal | SignedVote {
    const chainId = this.opts.genesis.chainId;
    if (m.type === 'proposal') {
      const blockHash = headerHash(m.value.block.header);
      const signature = nativeSign(Alg.EdDSA, this.opts.nodeKey, proposalSignBytes(chainId, m.height, m.round, m.validRound, blockHash));
      return { t: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, blockBytes: m.value.bytes, block: m.value.block, blockHash, signature };
    }
    const v = { t: m.type, from: m.from, height: m.height, round: m.round, blockHash: idHash(m.valueId) } as const;
    return { ...v, signature: nativeSign(Alg.EdDSA, this.opts.nodeKey, voteBytesOf(chainId, v)) };
  }

  private async commitDecided(value: BlockValue, round: number, precommits: readonly Vote[]): Promise<void> {
    const checked = this.checked.get(value.id);
    if (!checked) throw new Error(`decided block ${value.id} was never checked`);
    const blockHash = headerHash(value.block.header);
    const signatures = precommits.map((v) => ({
      validator: v.from,
      // Votes from peers carry their signature; our own is signed again (Ed25519 is deterministic).
      signature: (v as Vote & { signature?: Uint8Array }).signature
        ?? this.sign({ type: 'precommit', from: v.from, height: v.height, round: v.round, valueId: v.valueId }).signature,
    }));
    const commit: CommitCertificate = { height: value.block.header.height, round, blockHash, signatures };
    try {
      await this.writer.commit(value.block, commit, checked.decoded, checked.changed);
    } catch (e) {
      // The store refused (disk full ...): nothing changed. Run the height again, so that
      // block production resumes by itself once the store takes writes again.
      this.logger.error({ err: e, height: value.block.header.height }, 'storing the decided block failed; the height will run again');
      await this.nextHeight();
      return;
    }
    await this.nextHeight();
  }

  private async nextHeight(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.started = false;
    this.checked = new Map();
    this.sent = new Map();
    const h = this.writer.head.height + 1;
    if (this.transport) await this.store.pruneConsensus(h - 1);
    this.core = this.newCore(await this.restore(h));
    const early = this.future.filter((m) => 'height' in m && m.height === h);
    this.future = this.future.filter((m) => 'height' in m && m.height > h);
    for (const m of early) await this.handle(m, m.t === 'status' ? '' : m.from);
    this.poke();
  }

  /**
   * Read and check the consensus record of `height` before taking part in it. One that
   * cannot be trusted (E_CONSENSUS_STATE_CORRUPT) means we may have promised something we
   * no longer know: we do not vote at this height, we follow it (and vote again at the next).
   */
  private async restore(height: number): Promise<Restored | undefined> {
    this.unrestorable = undefined;
    this.polkaBytes = [];
    this.pendingState = undefined;
    this.recordBlocks = new Set();
    const me = this.opts.validatorId;
    if (!this.transport || me === undefined) return undefined;
    let r: Restored;
    try {
      r = restoreRecord(await this.store.loadConsensus(height), {
        height, me, validators: this.opts.genesis.validators, verify: (m) => this.signatureOk(m),
      });
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      this.unrestorable = e.message;
      this.metrics.consensusStateUnrestorable(true);
      this.logger.error({ code: STATE_CORRUPT, height, err: e.message }, 'consensus record cannot be restored: this validator does not vote at this height, it follows the others');
      return undefined;
    }
    this.metrics.consensusStateUnrestorable(false);
    for (const [k, bytes] of r.signedBytes) this.sent.set(k, bytes);
    for (const m of r.signed.values()) if (m.type === 'proposal') this.checked.set(m.valueId, await this.checkBlock(m.value.block).catch(() => null));
    for (const v of [r.state?.locked, r.state?.valid]) {
      if (!v) continue;
      this.recordBlocks.add(v.valueId);
      if (!this.checked.has(v.valueId)) this.checked.set(v.valueId, await this.checkBlock(v.value.block).catch(() => null));
    }
    this.polkaBytes = r.polkaBytes;
    if (r.state) this.logger.info({ height, round: r.state.round, locked: r.state.locked?.round ?? -1, valid: r.state.valid?.round ?? -1 }, 'consensus record restored');
    return r;
  }

  private signatureOk(m: SignedProposal | SignedVote): boolean {
    const key = this.validatorKeys.get(m.from);
    if (!key) return false;
    const chainId = this.opts.genesis.chainId;
    const signed = m.t === 'proposal' ? proposalSignBytes(chainId, m.height, m.round, m.validRound, m.blockHash) : voteBytesOf(chainId, m);
    return nativeVerify(Alg.EdDSA, this.keys.get(Alg.EdDSA, key), signed, m.signature);
  }

  // ---- peers ------------------------------------------------------------------------

  private onPeer(from: string, kind: 'consensus' | 'tx', payload: Uint8Array): void {
    if (kind === 'tx') {
      let txs: Uint8Array[];
      try {
        txs = decodeTxBatch(payload);
      } catch (e) {
        this.logger.debug({ from, err: (e as Error).message }, 'undecodable gossip');
        return;
      }
      if (this.validatorKeys.has(from)) {
        // A validator proposes what its own meters sent, in the order they sent it. Taking
        // its gossip into our blocks could commit a meter's reading n+1 while n (gossip
        // lost on the way) still waits at its gateway, and n would then be refused. So we
        // only check the signatures now, and the proposal carrying them later costs nothing.
        for (const tx of txs) void this.preverify(tx);
        return;
      }
      // An observer never proposes: validators carry its readings (docs/consensus.md).
      // Submitted in batch order; the intake keeps each meter's order.
      for (const tx of txs) {
        void this.intake.submit(tx, { meterId: '', transport: 'peer' }).then((r) => {
          if (r.status === 'accepted') this.poke();
        });
      }
      return;
    }
    let m: PeerMessage;
    try {
      m = decodePeerMessage(payload);
    } catch (e) {
      this.logger.debug({ from, err: (e as Error).message }, 'undecodable consensus message');
      return;
    }
    void this.handle(m, from);
  }

  private async handle(m: PeerMessage, from: string): Promise<void> {
    if (m.t === 'status') {
      this.peerHeights.set(from, m.height);
      if (m.height > this.writer.head.height) void this.sync();
      return;
    }
    if (!this.validatorKeys.has(m.from)) return;
    if (!this.signatureOk(m)) {
      this.logger.warn({ from: m.from, type: m.t }, 'consensus message with a bad signature dropped');
      return;
    }
    this.metrics.consensusMessage(m.t);
    const h = this.core.height;
    if (m.height < h) return;
    if (m.height > h) {
      if (this.future.length < MAX_FUTURE) this.future.push(m);
      if (m.height > h + 1) void this.sync();
      return;
    }
    if (m.t === 'proposal') {
      const id = toHex(m.blockHash);
      if (!this.checked.has(id)) {
        // A fresh block names its maker, the round's proposer. One proposed again with its
        // validRound (Alg. 1 lines 14-16) keeps the header an earlier proposer made: it can
        // only win prevotes with a polka of that round (line 28), whose honest voters
        // checked the header when it was fresh.
        const hp = m.block.header.proposer;
        const problem = m.validRound === -1 ? (hp !== m.from ? 'header names another proposer' : undefined)
          : !this.validatorKeys.has(hp) ? 'header names no validator' : undefined;
        const result = problem ? null : await this.checkBlock(m.block).catch((e: unknown) => {
          this.logger.warn({ from: m.from, height: m.height, reason: (e as Error).message }, 'invalid proposal: no prevote for it');
          return null;
        });
        if (this.core.height !== m.height) return; // the height moved on while we checked
        this.checked.set(id, result);
      }
    }
    const ev = toCoreMessage(m);
    this.enqueue(async () => {
      if (this.core.height !== ev.height) return;
      if (!this.started && this.opts.validatorId !== undefined) {
        this.started = true; // a peer started this height: join it
        clearTimeout(this.startTimer);
        this.startTimer = undefined;
        await this.apply(this.core.handle({ type: 'start' }));
        if (this.core.height !== ev.height) return;
      }
      await this.apply(this.core.handle(ev));
    });
  }

  /** Check a gossiped transaction's signature into the cache (valid or not, nothing else). */
  private async preverify(bytes: Uint8Array): Promise<void> {
    try {
      const tx = decodeTx(bytes, this.opts.genesis.params.maxTxBytes);
      await verifyTxSignature(this.txctx, requiredSigner(this.registry, this.txctx.operators, tx), tx);
    } catch {
      /* not valid here (yet): the proposal will say */
    }
  }

  /** A block is valid on our head: header fields, Merkle root, and every transaction. */
  private async checkBlock(block: Block): Promise<{ decoded: Awaited<ReturnType<typeof checkTxs>>['decoded']; changed: Map<string, MeterRecord> }> {
    const head = this.writer.head;
    const hd = block.header;
    const fail = (why: string): never => {
      throw new Error(why);
    };
    if (hd.chainId !== this.opts.genesis.chainId) fail('another chain');
    if (hd.height !== head.height + 1) fail(`height ${hd.height}, expected ${head.height + 1}`);
    if (!equalBytes(hd.prevHash, head.hash)) fail('prevHash is not our head');
    if (hd.time < (head.time ?? 0)) fail('time goes backwards');
    if (hd.time > this.opts.now() + (this.opts.maxClockDriftMs ?? 60_000)) fail('time is too far ahead of our clock');
    if (hd.txCount !== block.txs.length || block.txs.length > this.opts.genesis.params.maxBlockTxs) fail('bad txCount');
    const rebuilt = makeHeader({ chainId: hd.chainId, height: hd.height, time: hd.time, prevHash: hd.prevHash, proposer: hd.proposer }, block.txs);
    if (!equalBytes(rebuilt.txRoot, hd.txRoot)) fail('txRoot is not the Merkle root of the transactions');
    try {
      return await checkTxs(this.txctx, this.registry.committed, block.txs, hd.time);
    } catch (e) {
      if (e instanceof InvalidTxError) return fail(e.message);
      throw e;
    }
  }

  private async recordEvidence(a: ConsensusMessage<BlockValue>, b: ConsensusMessage<BlockValue>): Promise<void> {
    this.metrics.evidence();
    this.logger.warn({ validator: a.from, height: a.height, round: a.round, type: a.type }, 'double signing detected; evidence kept');
    const enc = (m: ConsensusMessage<BlockValue>) => (m.type === 'proposal' ? { type: m.type, from: m.from, height: m.height, round: m.round, valueId: m.valueId } : { ...m });
    const sig = (m: ConsensusMessage<BlockValue>) => (m as { signature?: Uint8Array }).signature;
    await this.store.putEvidence(new TextEncoder().encode(JSON.stringify({
      first: { ...enc(a), signature: sig(a) ? toHex(sig(a)!) : undefined },
      second: { ...enc(b), signature: sig(b) ? toHex(sig(b)!) : undefined },
      at: new Date().toISOString(),
    })));
  }

  // ---- sync -------------------------------------------------------------------------

  /** Our committed height, and again what we signed at this height (gossip, Tendermint §"gossip"). */
  private sendStatus(): void {
    if (!this.transport) return;
    const heard = new Set(this.transport.peers());
    const power = this.opts.genesis.validators.reduce((p, v) => p + (heard.has(v.id) || v.id === this.opts.validatorId ? v.power : 0), 0);
    const total = this.opts.genesis.validators.reduce((p, v) => p + v.power, 0);
    this.quorum = power * 3 > total * 2;
    this.metrics.peers(heard.size, this.quorum);
    this.transport.broadcast('consensus', encodePeerMessage({ t: 'status', height: this.writer.head.height }));
    for (const bytes of this.sent.values()) this.transport.broadcast('consensus', bytes);
    for (const bytes of this.polkaBytes) this.transport.broadcast('consensus', bytes);
  }

  private async answerSync(payload: Uint8Array): Promise<Uint8Array> {
    const h = decodeSyncRequest(payload);
    const [block, commit] = await Promise.all([this.store.blockBytes(h), this.store.commitBytes(h)]);
    return encodeSyncAnswer(block && commit ? { block, commit } : undefined);
  }

  /** Fetch the blocks peers have and we do not, checking each commit certificate. */
  private async sync(): Promise<void> {
    if (this.syncing || !this.transport) return;
    this.syncing = true;
    try {
      for (;;) {
        const want = this.writer.head.height + 1;
        const peers = [...this.peerHeights].filter(([, h]) => h >= want).map(([p]) => p);
        if (peers.length === 0 || this.stopped) return;
        const peer = peers[Math.floor(Math.random() * peers.length)]!;
        let answer;
        try {
          const r = await this.transport.request(peer, encodeSyncRequest(want), SYNC_TIMEOUT_MS);
          answer = decodeSyncAnswer(r.payload);
        } catch (e) {
          this.logger.debug({ peer, height: want, err: (e as Error).message }, 'sync request failed');
          this.peerHeights.delete(peer);
          continue;
        }
        if (!answer) {
          this.peerHeights.delete(peer);
          continue;
        }
        const done = await new Promise<boolean>((resolve) => {
          this.enqueue(async () => {
            if (this.writer.head.height + 1 !== want) return resolve(true); // consensus got there first
            try {
              const block = decodeBlock(answer.block);
              const commit = decodeCommit(answer.commit);
              const problem = commitProblem(this.opts.genesis, block.header, commit);
              if (problem) throw new Error(`commit certificate: ${problem}`);
              const checked = await this.checkBlock(block);
              await this.writer.commit(block, commit, checked.decoded, checked.changed);
              const top = Math.max(0, ...this.peerHeights.values());
              this.metrics.blockSynced(want, Math.max(0, top - want));
              this.logger.info({ height: want, from: peer, behind: Math.max(0, top - want) }, 'block synced from a peer');
              await this.nextHeight();
              resolve(true);
            } catch (e) {
              this.logger.warn({ peer, height: want, err: (e as Error).message }, 'synced block refused');
              this.peerHeights.delete(peer);
              resolve(false);
            }
          });
        });
        void done;
      }
    } finally {
      this.syncing = false;
    }
  }

  /** Commit what waits (alone: at once; in a cluster: give consensus `deadlineMs`), then stop. */
  async drain(deadlineMs: number): Promise<void> {
    this.flushGossip();
    const end = performance.now() + deadlineMs;
    while (this.mempool.durableCount > 0 && performance.now() < end && this.opts.validatorId !== undefined) {
      this.startHeight();
      await this.work;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    this.flushGossip();
    clearTimeout(this.startTimer);
    clearInterval(this.statusTimer);
    for (const t of this.timers) clearTimeout(t);
    await this.work;
  }

  peerHeightsView(): Record<string, number> {
    return Object.fromEntries(this.peerHeights);
  }
}

