/**
 * Durable gossip (docs/protocol.md §12.5, docs/consensus.md "Failover"): every transaction
 * a gateway durably accepted goes into one NATS JetStream stream per chain, deduplicated
 * by transaction hash (Nats-Msg-Id), and every validator reads that stream through its own
 * durable consumer, acknowledging a message only once the transaction is in its own
 * write-ahead or already committed. So a reading accepted anywhere reaches every validator
 * at least once whatever core NATS drops and whoever is down: JetStream keeps it and
 * redelivers; we only publish and acknowledge.
 *
 * The write-ahead is the source of truth, the stream a copy: while JetStream cannot be
 * reached (no `-js`, no quorum of its servers, NATS down) the gateway accepts as ever and
 * publishes the backlog (everything still in its write-ahead) once the stream answers,
 * again at every new connection, and again every half retention period, so that a
 * reading waiting longer than the retention is not lost with its message.
 *
 * Messages are peer envelopes of kind 'tx' signed by the publishing gateway, one
 * transaction each. A consumer checks sender and signature before it looks at the
 * transaction (./envelope.ts openStreamEnvelope), so an outsider who can publish on the
 * subject costs each validator one Ed25519 check of a short header per message, bounded by
 * the stream's own limits (message size, bytes, age), and cannot inject work past it.
 */
import type { KeyObject } from 'node:crypto';
import {
  AckPolicy, type ConsumerMessages, DeliverPolicy, DiscardPolicy, type JsMsg, type NatsConnection, RetentionPolicy, StorageType,
  type StreamConfig, nanos,
} from 'nats';
import { type SignedTx, type TxBody, peerSubjects, subjectToken } from '../../protocols/index.js';
import { openStreamEnvelope, peerKeyObjects, sealEnvelope } from './envelope.js';
import type { P2pLogger } from './peers.js';
import type { PeerKey } from './transport.js';

/** What the consumer's owner did with a transaction from the stream. */
export type TakeResult = 'done' | 'retry';

export interface DurableGossipOptions {
  readonly chainId: string;
  readonly nodeId: string;
  /** Ed25519 node key. */
  readonly nodeKey: KeyObject;
  /** Every validator and observer of genesis. */
  readonly peers: readonly PeerKey[];
  /** Validators consume; observers only publish. */
  readonly consume: boolean;
  /** Stream replicas (1..5; 3 on a 3-server cluster survives one server). */
  readonly replicas: number;
  /** Retention: messages older than this go, ms. */
  readonly maxAgeMs: number;
  /** Retention: the stream's bytes at most; the oldest go first. */
  readonly maxBytes: number;
  /** Largest transaction, bytes (genesis maxTxBytes): bounds a message. */
  readonly maxTxBytes: number;
  /** How often to try JetStream again while it does not answer, ms (default 2000). */
  readonly retryMs?: number;
  readonly logger: P2pLogger;
}

/** The stream of a chain: its name may hold no dots. */
export const streamName = (chainId: string): string => `ML_TX_${subjectToken(chainId).replaceAll('-', '_')}`;
/** A validator's durable consumer. */
export const consumerName = (nodeId: string): string => `v_${subjectToken(nodeId)}`;

/** The limits a gateway needs of the stream: a message must fit one sealed transaction. */
export interface StreamLimits {
  readonly max_msg_size: number;
  readonly max_age: number;
  readonly max_bytes: number;
  readonly duplicate_window: number;
}

export function streamLimits(o: Pick<DurableGossipOptions, 'maxTxBytes' | 'maxAgeMs' | 'maxBytes'>): StreamLimits {
  return {
    max_msg_size: o.maxTxBytes + 1024, max_age: nanos(o.maxAgeMs), max_bytes: o.maxBytes,
    duplicate_window: nanos(Math.min(600_000, o.maxAgeMs)),
  };
}

/** Limits of an existing stream below what we need (-1 or 0 is JetStream's "unlimited"), or undefined when it holds. */
export function streamLimitsToRaise(have: Pick<StreamConfig, keyof StreamLimits>, need: StreamLimits): Partial<StreamLimits> | undefined {
  const change: { -readonly [K in keyof StreamLimits]?: number } = {};
  for (const k of ['max_msg_size', 'max_age', 'max_bytes', 'duplicate_window'] as const) {
    const h = have[k];
    const unlimited = h === -1 || (h === 0 && k !== 'duplicate_window');
    if (!unlimited && h < need[k]) change[k] = need[k];
  }
  return Object.keys(change).length ? change : undefined;
}

const isNotFound = (e: unknown): boolean => /not found/i.test((e as Error).message ?? '') || (e as { api_error?: { err_code?: number } }).api_error?.err_code === 10059;

const MAX_IN_FLIGHT = 256;
/** A message not acknowledged within this is redelivered. */
const ACK_WAIT_MS = 30_000;
/** Unacknowledged messages a consumer may hold: the flow control of a catching-up validator. */
const MAX_ACK_PENDING = 2000;
const RETRY_TAKE_MS = 2000;
/** A pull request's life, ms: a pull lost with a dead NATS server is replaced after about this. */
const PULL_EXPIRES_MS = 8000;
const LOG_EVERY_MS = 60_000;

export class DurableGossip {
  private readonly subject: string;
  private readonly stream: string;
  /** Every key each peer has held (genesis, then each committed change): entries stay in the stream for days. */
  private keys: ReadonlyMap<string, readonly KeyObject[]>;
  /** Accepted and not yet stored by the stream, by tx hash. */
  private readonly queue = new Map<string, Uint8Array>();
  private inFlight = 0;
  private nc: NatsConnection | undefined;
  private ready = false;
  private messages: ConsumerMessages | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private settingUp = false;
  private closed = false;
  private lastWarn = 0;
  private lastTime = 0;

  constructor(
    private readonly opts: DurableGossipOptions,
    /** The carrier's current NATS connection (it changes when the carrier dials anew). */
    private readonly connection: () => NatsConnection | undefined,
    /** Put a transaction from the stream into the mempool: 'done' once durable, committed or invalid for good. */
    private readonly take: (tx: Uint8Array, from: string) => Promise<TakeResult>,
    /** Everything in our write-ahead now: what to publish again. */
    private readonly backlog: () => readonly SignedTx<TxBody>[],
  ) {
    this.subject = peerSubjects(opts.chainId).txlog;
    this.stream = streamName(opts.chainId);
    this.keys = new Map([...peerKeyObjects(opts.peers)].map(([id, k]) => [id, [k]]));
  }

  /**
   * The peers changed (a validator-set change: docs/protocol.md §13.6): entries are checked
   * with these keys too, and still with the keys peers held before. An entry sealed before a
   * rotation or a removal may wait in the stream for days, and what it carries is checked on
   * its own signature by the intake; the envelope only says which gateway put it there.
   */
  setPeers(peers: readonly PeerKey[]): void {
    const next = new Map(this.keys);
    for (const [id, key] of peerKeyObjects(peers)) {
      const held = next.get(id) ?? [];
      if (!held.some((k) => k.equals(key))) next.set(id, [key, ...held]);
    }
    this.keys = next;
  }

  /** Our node key was rotated (docs/protocol.md §13.6): entries are sealed with this one from now on. */
  setNodeKey(key: KeyObject): void {
    this.nodeKey = key;
  }
  private nodeKey: KeyObject | undefined;

  start(): void {
    this.tick();
    this.refreshTimer = setInterval(() => this.republish(), Math.max(1000, Math.floor(this.opts.maxAgeMs / 2))).unref();
  }

  /** A transaction we accepted durably: into the stream as soon as it answers. */
  publish(tx: SignedTx<TxBody>): void {
    if (this.closed) return;
    this.queue.set(tx.hashHex, tx.bytes);
    this.pump();
  }

  /** Whether the stream answered on the current connection (for status and tests). */
  get streaming(): boolean {
    return this.ready;
  }

  get queued(): number {
    return this.queue.size;
  }

  private republish(): void {
    for (const tx of this.backlog()) this.queue.set(tx.hashHex, tx.bytes);
    this.pump();
  }

  private tick(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), this.opts.retryMs ?? 2000).unref();
    const nc = this.connection();
    if (nc && (nc !== this.nc || !this.ready) && !this.settingUp) void this.setUp(nc);
    else if (this.ready) this.pump();
  }

  private warn(o: object, m: string): void {
    const now = Date.now();
    if (now - this.lastWarn < LOG_EVERY_MS) return this.opts.logger.debug(o, m);
    this.lastWarn = now;
    this.opts.logger.warn(o, m);
  }

  /** Make sure the stream (and our consumer) exist on this connection, then publish the backlog and consume. */
  private async setUp(nc: NatsConnection): Promise<void> {
    this.settingUp = true;
    try {
      if (this.nc !== nc) {
        this.ready = false;
        this.messages?.stop();
        this.messages = undefined;
        this.nc = nc;
      }
      const jsm = await nc.jetstreamManager({ timeout: 5000 });
      const limits = streamLimits(this.opts);
      let existing: StreamConfig | undefined;
      try {
        existing = (await jsm.streams.info(this.stream)).config;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (!existing) {
        // Limits, not interest: a validator that has never run (or was removed and comes
        // back) finds every message still there, and a consumer is never a reason to keep
        // a message forever. Age bounds a reading's copy; the write-ahead keeps the rest.
        await jsm.streams.add({
          name: this.stream, subjects: [this.subject], retention: RetentionPolicy.Limits, storage: StorageType.File,
          num_replicas: this.opts.replicas, discard: DiscardPolicy.Old, ...limits,
        });
        this.opts.logger.info({ stream: this.stream, replicas: this.opts.replicas }, 'JetStream stream of accepted transactions created');
      } else {
        const change = streamLimitsToRaise(existing, limits);
        if (change) {
          // A stream made by an older gateway or under other settings: a message it cannot
          // hold would be refused on every publish, so its limits are raised (never lowered:
          // another gateway of the chain may rely on them) before anything is published.
          await jsm.streams.update(this.stream, { ...existing, ...change });
          this.opts.logger.warn({ stream: this.stream, ...change }, 'JetStream stream limits raised to what this gateway needs');
        }
      }
      if (this.opts.consume && !this.messages) {
        const name = consumerName(this.opts.nodeId);
        try {
          await jsm.consumers.info(this.stream, name);
        } catch {
          await jsm.consumers.add(this.stream, {
            durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
            ack_wait: nanos(ACK_WAIT_MS), max_ack_pending: MAX_ACK_PENDING, max_deliver: -1, filter_subject: this.subject,
          });
        }
        const consumer = await nc.jetstream().consumers.get(this.stream, name);
        // A pull waiting on a server that died (our connection stayed on another) is noticed
        // only by two missed idle heartbeats of expires/2 each: on nats.js's 30 s default
        // a consumer delivered nothing for 30-37 s after a NATS server was killed
        // (test/faults/long-downtime.test.ts).
        this.messages = await consumer.consume({ max_messages: 500, expires: PULL_EXPIRES_MS });
        void this.consumeLoop(this.messages);
      }
      if (this.closed || this.nc !== nc) return;
      this.ready = true;
      this.opts.logger.info({ stream: this.stream, consume: this.opts.consume }, 'durable gossip on JetStream');
      this.republish();
    } catch (e) {
      this.ready = false;
      this.warn({ stream: this.stream, err: (e as Error).message }, 'JetStream not available; accepting as ever, the write-ahead is published when it is');
    } finally {
      this.settingUp = false;
    }
  }

  private async consumeLoop(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) void this.onMessage(m);
    } catch (e) {
      if (!this.closed) this.warn({ err: (e as Error).message }, 'JetStream consumer stopped; starting again');
    }
    if (this.messages === messages) {
      this.ready = false;
      this.messages = undefined;
    }
  }

  private async onMessage(m: JsMsg): Promise<void> {
    let env;
    try {
      env = openStreamEnvelope(m.data, this.opts.chainId, this.keys);
    } catch (e) {
      this.opts.logger.debug({ err: (e as Error).message, seq: m.seq }, 'stream message refused');
      m.term();
      return;
    }
    let r: TakeResult;
    try {
      r = await this.take(env.payload, env.from);
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'could not take a transaction from the stream; redelivered later');
      r = 'retry';
    }
    if (r === 'done') m.ack();
    else m.nak(RETRY_TAKE_MS);
  }

  /** Publish what is queued, at most MAX_IN_FLIGHT at a time; a failure leaves it queued for the next tick. */
  private pump(): void {
    if (!this.ready || this.closed) return;
    const nc = this.nc!;
    const js = nc.jetstream({ timeout: 5000 });
    for (const [hash, bytes] of this.queue) {
      if (this.inFlight >= MAX_IN_FLIGHT) return;
      this.queue.delete(hash);
      this.inFlight++;
      this.lastTime = Math.max(Date.now(), this.lastTime + 1);
      const sealed = sealEnvelope(this.opts.chainId, this.opts.nodeId, this.nodeKey ?? this.opts.nodeKey, 'tx', bytes, this.lastTime).bytes;
      js.publish(this.subject, sealed, { msgID: hash }).then(
        () => {},
        (e: unknown) => {
          if (!this.closed) this.queue.set(hash, bytes);
          this.ready = false;
          this.warn({ err: (e as Error).message, queued: this.queue.size }, 'JetStream publish failed; kept to publish again');
        },
      ).finally(() => {
        this.inFlight--;
        if (this.ready) this.pump();
      });
    }
  }

  close(): void {
    this.closed = true;
    this.ready = false;
    clearTimeout(this.timer);
    clearInterval(this.refreshTimer);
    this.messages?.stop();
  }
}
