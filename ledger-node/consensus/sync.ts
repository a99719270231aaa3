/**
 * Sync: gateways tell their committed height every `statusEveryMs` (and send again what
 * they signed at the current height, with the polka behind their valid value: peers that
 * were away get it, Tendermint's gossip); a gateway that sees a peer ahead fetches each
 * missing block with its commit certificate by request, from a peer picked at random,
 * and the runner commits it if the certificate and the block check out (./runner.ts
 * commitSynced); then it takes part in consensus again. It answers others' requests from
 * the store.
 */
import { decodeBlock, decodeCommit, decodeSyncAnswer, decodeSyncRequest, encodeSyncAnswer, encodeSyncRequest } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { NodeMetrics } from '../metrics.js';
import type { PeerTransport } from '../p2p/transport.js';
import type { ChainPort, ConsensusWire, Scheduler } from './ports.js';
import type { ConsensusRunner } from './runner.js';
import type { ValidatorSets } from './types.js';

export interface SyncOptions {
  readonly transport: Pick<PeerTransport, 'request' | 'onRequest' | 'peers'>;
  readonly wire: ConsensusWire;
  readonly runner: ConsensusRunner;
  readonly chain: ChainPort;
  readonly scheduler: Scheduler;
  /** In [0, 1): which peer to ask. */
  readonly random: () => number;
  readonly sets: ValidatorSets;
  readonly me: string | undefined;
  readonly statusEveryMs: number;
  readonly requestTimeoutMs: number;
  readonly metrics: Pick<NodeMetrics, 'peers' | 'blockSynced'>;
  readonly logger: Logger;
}

export class BlockSync {
  private readonly heights = new Map<string, number>();
  private quorum = false;
  private syncing = false;
  private stopped = false;
  private cancelStatus: (() => void) | undefined;

  constructor(private readonly opts: SyncOptions) {}

  start(): void {
    this.opts.transport.onRequest((_from, payload) => this.answer(payload));
    const tick = (): void => {
      if (this.stopped) return;
      this.sendStatus();
      this.cancelStatus = this.opts.scheduler.after(this.opts.statusEveryMs, tick);
    };
    tick();
  }

  /** The committed heights peers last told (a peer that failed a request is forgotten until it tells again). */
  get peerHeights(): ReadonlyMap<string, number> {
    return this.heights;
  }

  /** As last reported to metrics.peers(): the validators of the next height heard from hold more than 2/3 of its power. */
  get hasQuorum(): boolean {
    return this.quorum;
  }

  stop(): void {
    this.stopped = true;
    this.cancelStatus?.();
  }

  /** A peer's committed height. */
  onStatus(from: string, height: number): void {
    this.heights.set(from, height);
    if (height > this.opts.chain.head().height) this.kick();
  }

  /** Fetch what peers have that we do not (once at a time). */
  kick(): void {
    void this.run();
  }

  /** Our committed height, and again what we signed at this height. */
  private sendStatus(): void {
    const heard = new Set(this.opts.transport.peers());
    const validators = this.opts.sets(this.opts.chain.head().height + 1) ?? [];
    const power = validators.reduce((p, v) => p + (heard.has(v.id) || v.id === this.opts.me ? v.power : 0), 0);
    const total = validators.reduce((p, v) => p + v.power, 0);
    this.quorum = power * 3 > total * 2;
    this.opts.metrics.peers(heard.size, this.quorum);
    this.opts.wire({ t: 'status', height: this.opts.chain.head().height });
    for (const m of this.opts.runner.resend()) this.opts.wire(m);
  }

  private async answer(payload: Uint8Array): Promise<Uint8Array> {
    return encodeSyncAnswer(await this.opts.chain.stored(decodeSyncRequest(payload)));
  }

  private async run(): Promise<void> {
    if (this.syncing || this.stopped) return;
    this.syncing = true;
    try {
      for (;;) {
        const want = this.opts.chain.head().height + 1;
        const peers = [...this.heights].filter(([, h]) => h >= want).map(([p]) => p);
        if (peers.length === 0 || this.stopped || this.opts.runner.halted) return;
        const peer = peers[Math.floor(this.opts.random() * peers.length)]!;
        let answer;
        try {
          const r = await this.opts.transport.request(peer, encodeSyncRequest(want), this.opts.requestTimeoutMs);
          answer = decodeSyncAnswer(r.payload);
        } catch (e) {
          this.opts.logger.debug({ peer, height: want, err: (e as Error).message }, 'sync request failed');
          this.heights.delete(peer);
          continue;
        }
        if (!answer) {
          this.heights.delete(peer);
          continue;
        }
        try {
          const block = decodeBlock(answer.block);
          if (block.header.height !== want) throw new Error(`the answer is a block of height ${block.header.height}`);
          if ((await this.opts.runner.commitSynced(block, decodeCommit(answer.commit))) === 'stale') continue;
          const top = Math.max(0, ...this.heights.values());
          this.opts.metrics.blockSynced(want, Math.max(0, top - want));
          this.opts.logger.info({ height: want, from: peer, behind: Math.max(0, top - want) }, 'block synced from a peer');
        } catch (e) {
          this.opts.logger.warn({ peer, height: want, err: (e as Error).message }, 'synced block refused');
          this.heights.delete(peer);
        }
      }
    } finally {
      this.syncing = false;
    }
  }
}
