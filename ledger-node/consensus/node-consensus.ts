/**
 * Consensus as the node runs it: the runner (./runner.ts) over the node's chain
 * (./ledger-chain.ts), its store and its peers, with peer input, sync and gossip beside it,
 * and the rule for when a height starts: a block waits for transactions (none while idle),
 * `blockIntervalMs` after the oldest waiting one reached the intake or at once when
 * `blockMaxTxs` wait, or when a peer starts the height. LedgerNode holds one of these.
 *
 * With one validator and no transport it is the single gateway: the core decides in one
 * step and nothing is sent anywhere.
 */
import type { KeyObject } from 'node:crypto';
import type { Genesis } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { ProposalRewrite } from '../blocks/byzantine-bill.js';
import type { ChainWriter } from '../blocks/commit.js';
import type { Intake } from '../intake.js';
import type { Mempool } from '../mempool.js';
import type { NodeMetrics } from '../metrics.js';
import type { PeerTransport } from '../p2p/transport.js';
import type { LedgerStore } from '../store/store.js';
import type { TxContext } from '../signatures.js';
import type { ChainState } from '../state/layers.js';
import { TxGossip } from './gossip.js';
import { LedgerChain } from './ledger-chain.js';
import { encodePeerMessage } from '../../protocols/index.js';
import { PeerInput } from './peer-input.js';
import type { ConsensusLog, ConsensusWire, Scheduler } from './ports.js';
import { ConsensusRunner } from './runner.js';
import { Ed25519Signer } from './signer.js';
import { BlockSync } from './sync.js';
import { DEFAULT_TIMEOUTS, type Timeouts, type ValidatorSets, fixedSets } from './types.js';

const STATUS_EVERY_MS = 2000;
const SYNC_TIMEOUT_MS = 5000;

export interface NodeConsensusOptions {
  readonly genesis: Genesis;
  /** The validator set of each height (absent: genesis's, for every height). */
  readonly sets?: ValidatorSets;
  /** Our validator id, or undefined when this node is an observer. */
  readonly validatorId: string | undefined;
  readonly nodeKey: KeyObject;
  /** Hex of nodeKey's public key (the runner votes only where the height's set holds it). */
  readonly nodePublicKey?: string;
  /** Every key the node holds by public key hex, nodeKey's and the next one of a rotation (keys/validator.next.key): it signs with the one its height's set names. */
  readonly nodeKeys?: ReadonlyMap<string, KeyObject>;
  readonly blockIntervalMs: number;
  readonly blockMaxTxs: number;
  readonly timeouts?: Timeouts;
  readonly maxClockDriftMs?: number;
  readonly scheduler: Scheduler;
  /** In [0, 1). */
  readonly random: () => number;
  readonly writer: ChainWriter;
  readonly store: LedgerStore;
  readonly mempool: Mempool;
  readonly state: ChainState;
  readonly intake: Intake;
  readonly txctx: TxContext;
  readonly transport: PeerTransport | undefined;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  /** TEST ONLY: a Byzantine proposer (../blocks/byzantine-bill.ts). */
  readonly proposalRewrite?: ProposalRewrite;
}

/** The store's consensus keys (V, S, L) as the runner's record log. */
export const storeLog = (store: LedgerStore): ConsensusLog => ({
  load: (h) => store.loadConsensus(h),
  save: (h, w) => store.saveConsensus(h, w),
  prune: (h) => store.pruneConsensus(h),
});

export class NodeConsensus {
  readonly runner: ConsensusRunner;
  /** Resolves when consensus stopped on a failure (the node must stop). */
  readonly failed: Promise<Error>;
  private readonly sync: BlockSync | undefined;
  private readonly gossiper: TxGossip | undefined;
  private readonly input: PeerInput | undefined;
  private cancelBlockTimer: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: NodeConsensusOptions) {
    const { genesis, transport, scheduler, metrics, logger } = opts;
    const sets = opts.sets ?? fixedSets(genesis.validators.map((v) => ({ id: v.id, power: v.power, publicKey: v.publicKey })));
    const signer = new Ed25519Signer(genesis.chainId, sets, opts.nodeKeys ?? opts.nodeKey);
    const myKey = opts.nodeKeys ?? opts.nodePublicKey;
    const chain = new LedgerChain({
      genesis, validatorId: opts.validatorId, blockMaxTxs: opts.blockMaxTxs, scheduler, writer: opts.writer, store: opts.store,
      mempool: opts.mempool, state: opts.state, txctx: opts.txctx, logger,
      ...(opts.maxClockDriftMs !== undefined ? { maxClockDriftMs: opts.maxClockDriftMs } : {}),
      ...(opts.proposalRewrite ? { proposalRewrite: opts.proposalRewrite } : {}),
    });
    const wire: ConsensusWire | undefined = transport ? (m) => transport.broadcast('consensus', encodePeerMessage(m)) : undefined;
    let fail: (e: Error) => void = () => {};
    this.failed = new Promise((resolve) => (fail = resolve));
    this.runner = new ConsensusRunner({
      sets, me: opts.validatorId, ...(myKey !== undefined ? { myKey } : {}), timeouts: opts.timeouts ?? DEFAULT_TIMEOUTS, scheduler, signer, chain,
      log: transport ? storeLog(opts.store) : undefined, wire,
      evidence: (b) => opts.store.putEvidence(b), metrics, logger,
      onBehind: () => this.sync?.kick(),
      onHeight: () => this.poke(),
      onFatal: (e) => fail(e),
    });
    if (transport && wire) {
      this.sync = new BlockSync({
        transport, wire, runner: this.runner, chain, scheduler, random: opts.random, sets, me: opts.validatorId,
        statusEveryMs: STATUS_EVERY_MS, requestTimeoutMs: SYNC_TIMEOUT_MS, metrics, logger,
      });
      const sync = this.sync;
      this.input = new PeerInput({ sets, onAhead: () => sync.kick(), signer, runner: this.runner, onStatus: (from, h) => sync.onStatus(from, h), metrics, logger });
      this.gossiper = new TxGossip({
        send: (batch) => transport.broadcast('tx', batch), scheduler,
        validators: { has: (id) => this.runner.validators.some((v) => v.id === id) },
        intake: opts.intake, state: opts.state, txctx: opts.txctx, onAccepted: () => this.poke(), logger,
      });
    }
  }

  get height(): number {
    return this.runner.height;
  }

  get round(): number {
    return this.runner.round;
  }

  get stateProblem(): string | undefined {
    return this.runner.stateProblem;
  }

  /** Set once consensus stopped on a failure: `E_CONSENSUS_HALTED: <what failed>`. */
  get halted(): string | undefined {
    return this.runner.failure;
  }

  /** The validators heard from hold more than 2/3 of the power (alone: this validator's is all there is). */
  get hasQuorum(): boolean {
    return this.sync ? this.sync.hasQuorum : this.opts.validatorId !== undefined;
  }

  /** The committed heights peers last told. */
  get peerHeights(): ReadonlyMap<string, number> {
    return this.sync?.peerHeights ?? new Map();
  }

  /** Restore the record of the next height, start listening, and start if work waits. */
  async start(): Promise<void> {
    await this.runner.open();
    const { transport } = this.opts;
    if (transport && this.input && this.gossiper && this.sync) {
      const input = this.input;
      const gossiper = this.gossiper;
      transport.onMessage((from, kind, payload) => (kind === 'tx' ? gossiper.onBatch(from, payload) : input.onBytes(from, payload)));
      this.sync.start();
    } else {
      // Alone: this validator's power is all the power there is.
      this.opts.metrics.peers(0, this.opts.validatorId !== undefined);
    }
    this.poke();
  }

  /** Accepted transactions changed: start the height when a block is due. */
  poke(): void {
    if (this.stopped || this.runner.heightStarted || this.opts.validatorId === undefined) return;
    const waiting = this.opts.mempool.durableCount;
    if (waiting === 0) return;
    if (waiting >= this.opts.blockMaxTxs) return this.startHeight();
    // Counted from when the oldest waiting reading reached us, not from its durable
    // accept: a reading held up in the intake (a block being committed) should not wait
    // a whole interval more for its block.
    this.cancelBlockTimer ??= this.opts.scheduler.after(Math.max(0, this.opts.blockIntervalMs - (this.opts.mempool.oldestReceivedAgeMs() ?? 0)), () => {
      this.cancelBlockTimer = undefined;
      this.startHeight();
    });
  }

  /** Share a transaction we accepted with the other gateways. */
  gossip(tx: Uint8Array): void {
    if (!this.stopped) this.gossiper?.gossip(tx);
  }

  private startHeight(): void {
    this.cancelBlockTimer?.();
    this.cancelBlockTimer = undefined;
    this.runner.startHeight();
  }

  /** Commit what waits (alone: at once; in a cluster: give consensus `deadlineMs`), then stop. */
  async drain(deadlineMs: number): Promise<void> {
    const { scheduler, mempool } = this.opts;
    this.gossiper?.flush();
    const end = scheduler.now() + deadlineMs;
    while (mempool.durableCount > 0 && scheduler.now() < end && this.opts.validatorId !== undefined && !this.runner.halted) {
      this.startHeight();
      await this.runner.idle();
      await new Promise<void>((r) => scheduler.after(20, r));
    }
    this.stopped = true;
    this.gossiper?.flush();
    this.cancelBlockTimer?.();
    this.sync?.stop();
    await this.runner.stop();
  }
}
