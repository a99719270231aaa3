/**
 * The peer layer: the one PeerTransport, over any carrier (./carrier.ts). It seals what
 * the node sends, opens what arrives (./envelope.ts: frame, sender, time, signature,
 * replay, in that order), keeps liveness from heartbeats, and binds each answer to its
 * request. NATS and the in-memory network differ only in the carrier, so cluster tests
 * and the simulation run the same checks production runs.
 *
 * Subjects (protocols/p2p.ts peerSubjects): consensus and tx broadcasts, status
 * heartbeats, sync requests to any peer or to one, answers on the carrier's reply path.
 */
import { type KeyObject, createPublicKey } from 'node:crypto';
import {
  CHAIN_ID_PATTERN, type Genesis, PEER_ID_PATTERN, type PeerKind, bindAnswer, decodeKey, peerSubjects, unbindAnswer,
} from '../../protocols/index.js';
import type { Carrier, Reply } from './carrier.js';
import { ED25519_ENVELOPES, type EnvelopeScheme, type OpenedEnvelope, openEnvelope, peerKeyObjects, sealEnvelope } from './envelope.js';
import { P2pCode, P2pError } from './errors.js';
import { ReplayGuard } from './replay.js';
import type { BroadcastKind, PeerKey, PeerTransport } from './transport.js';

export interface P2pLogger {
  debug(o: object | string, m?: string): void;
  info(o: object | string, m?: string): void;
  warn(o: object | string, m?: string): void;
  error(o: object | string, m?: string): void;
}

export interface P2pMetrics {
  connected(up: boolean): void;
  /** `reason` is a P2pCode (E_P2P_BAD_SIGNATURE, E_P2P_REPLAY, ...). */
  messageDropped(reason: string): void;
}

/** Time for the peer layer: a wall clock (envelope times are compared across machines) and timers. */
export interface PeerClock {
  now(): number;
  /** Run `fn` once after `ms`; returns a cancel. `background`: must not keep the process alive. */
  after(ms: number, fn: () => void, background?: boolean): () => void;
}

export const systemClock: PeerClock = {
  now: () => Date.now(),
  after(ms, fn, background) {
    const t = setTimeout(fn, ms);
    if (background) t.unref();
    return () => clearTimeout(t);
  },
};

export const noopLogger: P2pLogger = { debug() {}, info() {}, warn() {}, error() {} };
const noopMetrics: P2pMetrics = { connected() {}, messageDropped() {} };

/** Defaults, documented in docs/protocol.md §12.3 and docs/configuration.md. */
export const DEFAULT_WINDOW_MS = 30_000;
export const DEFAULT_HEARTBEAT_MS = 2000;
export const DEFAULT_REPLAY_PER_SENDER = 20_000;

export interface PeerLayerOptions {
  readonly chainId: string;
  readonly nodeId: string;
  /** Ed25519 private key (loadKeyFile(...).privateKey). */
  readonly nodeKey: KeyObject;
  /** Every validator and observer of genesis (may include ourselves). */
  readonly peers: readonly PeerKey[];
  /** Envelopes dated further than this from our clock are refused, ms (default 30 s). */
  readonly windowMs?: number;
  /** Envelope ids remembered per peer against replays (default 20,000). */
  readonly replayPerSender?: number;
  /** Heartbeat period on the status subject, ms (default 2000). */
  readonly heartbeatMs?: number;
  readonly clock?: PeerClock;
  /** How envelopes are signed and checked with those keys (default Ed25519; the simulation's tags). */
  readonly envelopes?: EnvelopeScheme;
  readonly logger?: P2pLogger;
  readonly metrics?: P2pMetrics;
}

/** The peers of a chain: its validators and observers, with their Ed25519 node keys. */
export const peerKeysOf = (genesis: Genesis): PeerKey[] =>
  [...genesis.validators, ...(genesis.observers ?? [])].map((v) => ({ id: v.id, publicKey: decodeKey(v).publicKey }));

type MessageHandler = (from: string, kind: BroadcastKind, payload: Uint8Array) => void;
type RequestHandler = (from: string, payload: Uint8Array) => Promise<Uint8Array>;

const codeOf = (e: unknown): string => (e instanceof P2pError ? e.code : P2pCode.MALFORMED);

export class PeerLayer implements PeerTransport {
  readonly nodeId: string;
  private readonly chainId: string;
  private readonly subjects: ReturnType<typeof peerSubjects>;
  private keys: ReadonlyMap<string, KeyObject>;
  private readonly replay: ReplayGuard;
  private readonly clock: PeerClock;
  private readonly scheme: EnvelopeScheme;
  private readonly log: P2pLogger;
  private readonly metrics: P2pMetrics;
  private readonly heartbeatMs: number;
  private readonly handlers: MessageHandler[] = [];
  private requestHandler: RequestHandler | undefined;
  /** Peer -> our clock when its last good envelope came. */
  private readonly lastSeen = new Map<string, number>();
  private readonly pending = new Set<(err: P2pError) => void>();
  private lastTimeMs = 0;
  private cancelHeartbeat: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly carrier: Carrier,
    private readonly opts: PeerLayerOptions,
  ) {
    checkOptions(opts);
    this.nodeKey = opts.nodeKey;
    this.nodeId = opts.nodeId;
    this.chainId = opts.chainId;
    this.subjects = peerSubjects(opts.chainId);
    this.keys = peerKeyObjects(opts.peers.filter((p) => p.id !== opts.nodeId));
    this.replay = new ReplayGuard(opts.windowMs ?? DEFAULT_WINDOW_MS, opts.replayPerSender ?? DEFAULT_REPLAY_PER_SENDER);
    this.clock = opts.clock ?? systemClock;
    this.scheme = opts.envelopes ?? ED25519_ENVELOPES;
    this.log = opts.logger ?? noopLogger;
    this.metrics = opts.metrics ?? noopMetrics;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;

    const s = this.subjects;
    carrier.subscribe(s.consensus, (d) => this.receive(d, 'consensus'));
    carrier.subscribe(s.tx, (d) => this.receive(d, 'tx'));
    carrier.subscribe(s.status, (d) => this.receive(d, 'status'));
    carrier.subscribe(s.sync, (d, r) => void this.answer(d, r));
    carrier.subscribe(s.syncTo(this.nodeId), (d, r) => void this.answer(d, r));
    carrier.onConnectionChange((up) => {
      this.metrics.connected(up);
      if (up) this.sendHeartbeat();
      else for (const fail of this.pending) fail(new P2pError(P2pCode.DISCONNECTED, 'carrier disconnected'));
    });
    this.metrics.connected(carrier.connected());
    this.sendHeartbeat();
    this.scheduleHeartbeat();
  }

  /**
   * The peers changed (a validator-set change added one or rotated a key, docs/protocol.md
   * §13.6): envelopes are checked with these keys from now on.
   */
  setPeers(peers: readonly PeerKey[]): void {
    this.keys = peerKeyObjects(peers.filter((p) => p.id !== this.nodeId));
  }

  /** Our node key was rotated (docs/protocol.md §13.6): envelopes are sealed with this one from now on. */
  setNodeKey(key: KeyObject): void {
    this.nodeKey = key;
  }
  private nodeKey: KeyObject;

  private scheduleHeartbeat(): void {
    this.cancelHeartbeat = this.clock.after(this.heartbeatMs, () => {
      if (this.closed) return;
      this.sendHeartbeat();
      this.scheduleHeartbeat();
    }, true);
  }

  private drop(reason: string, detail: object, msg: string): void {
    this.metrics.messageDropped(reason);
    this.log.debug({ reason, ...detail }, msg);
  }

  /** Sealed with a time that never repeats for this sender, so no two envelopes share an id. */
  private seal(kind: PeerKind, payload: Uint8Array, to = ''): { bytes: Uint8Array; id: Uint8Array } {
    this.lastTimeMs = Math.max(this.clock.now(), this.lastTimeMs + 1);
    return sealEnvelope(this.chainId, this.nodeId, this.nodeKey, kind, payload, this.lastTimeMs, to, this.scheme);
  }

  /** Open an inbound envelope; on any fault count it, log at debug, and return undefined. */
  private open(data: Uint8Array, expect: PeerKind): OpenedEnvelope | undefined {
    const now = this.clock.now();
    let env: OpenedEnvelope;
    try {
      env = openEnvelope(data, { chainId: this.chainId, nodeId: this.nodeId, peers: this.keys, now, replay: this.replay, scheme: this.scheme }, expect);
    } catch (e) {
      this.drop(codeOf(e), { kind: expect, bytes: data.length, err: (e as Error).message }, 'dropped inbound envelope');
      return undefined;
    }
    const before = this.lastSeen.get(env.from);
    this.lastSeen.set(env.from, now);
    // A peer we had not heard (lately) learns us at once, not a heartbeat period later.
    if (env.kind === 'status' && (before === undefined || now - before > 2 * this.heartbeatMs)) this.sendHeartbeat();
    return env;
  }

  private receive(data: Uint8Array, kind: 'consensus' | 'tx' | 'status'): void {
    if (this.closed) return;
    const env = this.open(data, kind);
    if (!env || kind === 'status') return;
    for (const h of this.handlers) {
      try {
        h(env.from, kind, env.payload);
      } catch (e) {
        this.log.error({ err: e, from: env.from, kind }, 'onMessage handler threw');
      }
    }
  }

  /** Serve a peer's request. No handler, or a failing one: stay silent, another peer may answer. */
  private async answer(data: Uint8Array, reply: Reply | undefined): Promise<void> {
    if (this.closed) return;
    if (!reply) return this.drop(P2pCode.MALFORMED, { bytes: data.length }, 'request without a reply path');
    const env = this.open(data, 'sync-req');
    const handler = this.requestHandler;
    if (!env || !handler) return;
    let answer: Uint8Array;
    try {
      answer = await handler(env.from, env.payload);
    } catch (e) {
      this.log.warn({ err: e, from: env.from }, 'onRequest handler failed; not answering');
      return;
    }
    if (this.closed) return;
    try {
      reply(this.seal('sync-res', bindAnswer(env.id, answer), env.from).bytes);
    } catch (e) {
      this.drop(codeOf(e) === P2pCode.TOO_LARGE ? P2pCode.TOO_LARGE : P2pCode.DISCONNECTED, { err: (e as Error).message, to: env.from }, 'could not answer request');
    }
  }

  private sendHeartbeat(): void {
    if (this.closed || !this.carrier.connected()) return;
    try {
      this.carrier.publish(this.subjects.status, this.seal('status', new Uint8Array(0)).bytes);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'heartbeat not sent');
    }
  }

  /**
   * Best effort, like the network under it: while disconnected the envelope is dropped
   * and counted (consensus sends again what matters once peers are back).
   */
  broadcast(kind: BroadcastKind, payload: Uint8Array): void {
    if (kind !== 'consensus' && kind !== 'tx') throw new TypeError(`broadcast kind must be 'consensus' or 'tx', not "${String(kind)}"`);
    if (this.closed) return this.drop(P2pCode.CLOSED, { kind }, 'broadcast after close');
    if (!this.carrier.connected()) return this.drop(P2pCode.DISCONNECTED, { kind }, 'broadcast while disconnected');
    try {
      this.carrier.publish(kind === 'consensus' ? this.subjects.consensus : this.subjects.tx, this.seal(kind, payload).bytes);
    } catch (e) {
      const code = codeOf(e) === P2pCode.TOO_LARGE ? P2pCode.TOO_LARGE : P2pCode.DISCONNECTED;
      this.metrics.messageDropped(code);
      this.log.error({ err: (e as Error).message, kind, bytes: payload.length }, 'broadcast failed');
    }
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  /**
   * Ask one peer, or any. The first answer that opens, is addressed to us, comes from the
   * peer asked (when one was named) and is bound to this request wins. A forged, stale or
   * unbound answer is dropped and we keep waiting, so a bad actor on the carrier cannot
   * make us miss a good answer that comes later.
   */
  request(to: string | undefined, payload: Uint8Array, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }> {
    if (this.closed) return Promise.reject(new P2pError(P2pCode.CLOSED, 'transport closed'));
    if (to !== undefined && !this.keys.has(to)) return Promise.reject(new P2pError(P2pCode.UNKNOWN_PEER, `cannot request from "${to}": not a peer`));
    if (!this.carrier.connected()) return Promise.reject(new P2pError(P2pCode.DISCONNECTED, 'not connected'));
    let req: { bytes: Uint8Array; id: Uint8Array };
    try {
      req = this.seal('sync-req', payload, to ?? '');
    } catch (e) {
      return Promise.reject(e);
    }
    const subject = to === undefined ? this.subjects.sync : this.subjects.syncTo(to);

    return new Promise((resolve, reject) => {
      let done = false;
      let end: (() => void) | undefined;
      const finish = (err: P2pError | undefined, value?: { from: string; payload: Uint8Array }): void => {
        if (done) return;
        done = true;
        cancelTimer();
        end?.();
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(value!);
      };
      const fail = (err: P2pError): void => finish(err);
      const cancelTimer = this.clock.after(timeoutMs, () => finish(new P2pError(P2pCode.TIMEOUT, `no answer on ${subject} within ${timeoutMs} ms`)));
      this.pending.add(fail);
      try {
        end = this.carrier.request(
          subject, req.bytes,
          (data) => {
            if (done) return;
            const env = this.open(data, 'sync-res');
            if (!env) return;
            if (to !== undefined && env.from !== to) return this.drop(P2pCode.MISADDRESSED, { from: env.from, to }, 'answer from a peer we did not ask');
            const bound = unbindAnswer(env.payload, req.id);
            if (!bound) return this.drop(P2pCode.MALFORMED, { from: env.from }, 'answer not bound to this request');
            finish(undefined, { from: env.from, payload: bound });
          },
          () => finish(new P2pError(P2pCode.NO_RESPONDERS, `nobody serves ${subject}`)),
        );
        if (done) end(); // finished while the carrier was still setting up
      } catch (e) {
        finish(e instanceof P2pError ? e : new P2pError(P2pCode.DISCONNECTED, `request failed: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  peers(withinMs = 10_000): string[] {
    const since = this.clock.now() - withinMs;
    return [...this.lastSeen].filter(([, t]) => t >= since).map(([id]) => id).sort();
  }

  connected(): boolean {
    return !this.closed && this.carrier.connected();
  }

  /** Stop sending heartbeats, fail what waits, and close the carrier. */
  async close(): Promise<void> {
    if (this.closed) return this.carrier.close();
    this.closed = true;
    this.cancelHeartbeat?.();
    for (const fail of this.pending) fail(new P2pError(P2pCode.CLOSED, 'transport closed'));
    await this.carrier.close();
  }
}

function checkOptions(opts: PeerLayerOptions): void {
  const bad = (m: string): never => {
    throw new P2pError(P2pCode.CONFIG, m);
  };
  if (!CHAIN_ID_PATTERN.test(opts.chainId)) bad(`chainId "${opts.chainId}" must match ${CHAIN_ID_PATTERN}`);
  if (!PEER_ID_PATTERN.test(opts.nodeId)) bad(`nodeId "${opts.nodeId}" must match ${PEER_ID_PATTERN}`);
  if (opts.nodeKey.type !== 'private' || opts.nodeKey.asymmetricKeyType !== 'ed25519') bad('nodeKey must be an Ed25519 private key');
  const self = opts.peers.find((p) => p.id === opts.nodeId);
  if (self) {
    const ours = createPublicKey(opts.nodeKey).export({ format: 'jwk' }).x;
    if (ours !== Buffer.from(self.publicKey).toString('base64url')) bad(`nodeKey is not the key genesis lists for "${opts.nodeId}"`);
  }
}
