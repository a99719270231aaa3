/**
 * The NATS adapter of the Transport interface: the only code in the node that touches
 * the network between gateways (cometbft's reactor edge). NATS carries bytes; trust comes
 * from the signed envelopes (./envelope.ts), so a NATS operator can drop, delay or replay
 * messages but not forge them.
 *
 * Subjects, per chain (a '.' in a chain or node id becomes '_', since '.' separates NATS
 * subject tokens; two ids that then collide only share a subject: the chain id and sender
 * inside the signed body are still checked, so nothing is misattributed):
 *   ml.<chain>.consensus       broadcast, kind 'consensus'
 *   ml.<chain>.tx              broadcast, kind 'tx'
 *   ml.<chain>.status          heartbeat every 2 s, kind 'status' (keeps peers() honest)
 *   ml.<chain>.sync            request to any peer, kind 'sync-req'; every peer with a
 *                              request handler answers, the first valid answer wins
 *   ml.<chain>.sync.<node>     request to one peer
 * Answers go to the requester's own inbox as kind 'sync-res' with payload
 * CBOR [sha256(request envelope), answer], binding each answer to its request so an old
 * signed answer cannot be replayed as a new one.
 */
import { type KeyObject, createHash, createPublicKey } from 'node:crypto';
import {
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
  type NatsError,
  type Subscription,
  ErrorCode,
  Events,
  connect,
  createInbox,
  nkeyAuthenticator,
} from 'nats';
import { CHAIN_ID_PATTERN, decodeCanonicalCbor, encodeCbor, equalBytes } from '../../protocols/index.js';
import {
  type EnvelopeKind,
  type OpenedEnvelope,
  MAX_ENVELOPE_BYTES,
  P2pCode,
  P2pError,
  openEnvelope,
  peerKeyObjects,
  sealEnvelope,
} from './envelope.js';
import type { BroadcastKind, PeerKey, Transport } from './transport.js';

export interface P2pLogger {
  debug(o: object | string, m?: string): void;
  info(o: object | string, m?: string): void;
  warn(o: object | string, m?: string): void;
  error(o: object | string, m?: string): void;
}

export interface P2pMetrics {
  connected(up: boolean): void;
  /** `reason` is a P2pCode (E_P2P_BAD_SIGNATURE, E_P2P_DISCONNECTED, ...). */
  messageDropped(reason: string): void;
}

export interface NatsTransportOptions {
  /** e.g. ['nats://127.0.0.1:4222']; give every server of the cluster. */
  readonly servers: string[];
  readonly chainId: string;
  readonly nodeId: string;
  /** Ed25519 private key (loadKeyFile(...).privateKey). */
  readonly nodeKey: KeyObject;
  /** Every validator and observer of genesis (may include ourselves). */
  readonly peers: readonly PeerKey[];
  readonly auth?: { user: string; pass: string } | { token: string } | { nkeySeed: string };
  readonly tls?: { caFile?: string; certFile?: string; keyFile?: string };
  readonly logger?: P2pLogger;
  readonly metrics?: P2pMetrics;
  /**
   * Use only `servers`, not the client URLs the cluster gossips. Set it when servers
   * are reached through NAT or a proxy, where the addresses they advertise are wrong.
   */
  readonly ignoreClusterUpdates?: boolean;
  /** How long connect() keeps retrying unreachable servers, ms (default 0: one pass). */
  readonly connectTimeoutMs?: number;
  /** Wait between reconnect attempts to one server, ms (default 500, plus up to 100 jitter). */
  readonly reconnectTimeWaitMs?: number;
  /** Client pings; a link silent for about 2 intervals counts as dead (default 5000). */
  readonly pingIntervalMs?: number;
  /** Heartbeat period on ml.<chain>.status, ms (default 2000). */
  readonly heartbeatMs?: number;
}

const noopLogger: P2pLogger = { debug() {}, info() {}, warn() {}, error() {} };
const noopMetrics: P2pMetrics = { connected() {}, messageDropped() {} };

/** One subject token for a chain or node id: NATS uses '.' as the token separator. */
export const subjectToken = (id: string): string => id.replaceAll('.', '_');

export function natsSubjects(chainId: string) {
  const base = `ml.${subjectToken(chainId)}`;
  return {
    consensus: `${base}.consensus`,
    tx: `${base}.tx`,
    status: `${base}.status`,
    sync: `${base}.sync`,
    syncTo: (nodeId: string) => `${base}.sync.${subjectToken(nodeId)}`,
  } as const;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const codeOf = (e: unknown): string => (e instanceof P2pError ? e.code : P2pCode.MALFORMED);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type MessageHandler = (from: string, kind: BroadcastKind, payload: Uint8Array) => void;
type RequestHandler = (from: string, payload: Uint8Array) => Promise<Uint8Array>;

export class NatsTransport implements Transport {
  readonly nodeId: string;
  private readonly chainId: string;
  private readonly subjects: ReturnType<typeof natsSubjects>;
  private readonly log: P2pLogger;
  private readonly metrics: P2pMetrics;
  private readonly handlers: MessageHandler[] = [];
  private requestHandler: RequestHandler | undefined;
  private readonly lastSeen = new Map<string, number>();
  private readonly pending = new Set<(err: P2pError) => void>();
  private heartbeat: NodeJS.Timeout | undefined;
  private up = false;
  private closing = false;
  private redialing = false;

  private constructor(
    private nc: NatsConnection,
    private readonly opts: NatsTransportOptions,
    private readonly peerKeys: ReadonlyMap<string, KeyObject>,
  ) {
    this.nodeId = opts.nodeId;
    this.chainId = opts.chainId;
    this.subjects = natsSubjects(opts.chainId);
    this.log = opts.logger ?? noopLogger;
    this.metrics = opts.metrics ?? noopMetrics;
  }

  /**
   * Connect, subscribe, and start the heartbeat. Fails with E_P2P_AUTH when a server
   * refuses our credentials, E_P2P_CONNECT when none is reachable within
   * connectTimeoutMs. Once connected, it reconnects on its own, forever.
   */
  static async connect(opts: NatsTransportOptions): Promise<NatsTransport> {
    checkOptions(opts);
    const peerKeys = peerKeyObjects(opts.peers);
    const nc = await connectWithRetry(opts);
    const t = new NatsTransport(nc, opts, peerKeys);
    try {
      await t.attach(nc);
    } catch (err) {
      t.closing = true;
      await nc.close().catch(() => {});
      throw err;
    }
    t.heartbeat = setInterval(() => t.sendHeartbeat(), opts.heartbeatMs ?? 2000);
    t.heartbeat.unref();
    return t;
  }

  /** Subscribe on a (new) connection and follow its state. */
  private async attach(nc: NatsConnection): Promise<void> {
    this.nc = nc;
    const max = nc.info?.max_payload ?? 0;
    if (max < MAX_ENVELOPE_BYTES) {
      this.log.warn({ maxPayload: max, want: MAX_ENVELOPE_BYTES }, 'NATS max_payload is below the envelope limit; set max_payload: 8MB on every server or large blocks will not pass');
    }
    const s = this.subjects;
    this.subscribe(s.consensus, (m) => this.receive(m, 'consensus'));
    this.subscribe(s.tx, (m) => this.receive(m, 'tx'));
    this.subscribe(s.status, (m) => this.receive(m, 'status'));
    this.subscribe(s.sync, (m) => void this.answer(m));
    this.subscribe(s.syncTo(this.nodeId), (m) => void this.answer(m));
    void this.watchStatus(nc);
    void nc.closed().then((err) => this.lost(nc, err));
    // The server has our subscriptions once it answers a PING.
    await nc.flush();
    this.setUp(true);
    this.log.info({ server: nc.getServer(), chainId: this.chainId }, 'connected to NATS');
    this.sendHeartbeat();
  }

  /**
   * The connection closed and nats.js will not dial again: it gives up, despite infinite
   * reconnects, after the same auth error twice in a row (a password being rotated, a
   * server restarted with new accounts). We dial a fresh connection until close().
   */
  private async lost(nc: NatsConnection, err: void | Error): Promise<void> {
    if (nc !== this.nc || this.redialing) return;
    this.setUp(false);
    for (const reject of this.pending) reject(new P2pError(P2pCode.DISCONNECTED, 'NATS connection closed'));
    if (this.closing) return;
    this.log.error({ err }, 'NATS connection closed for good; dialling a new one');
    this.redialing = true;
    try {
      while (!this.closing) {
        await sleep(Math.max(1000, this.opts.reconnectTimeWaitMs ?? 500));
        let next: NatsConnection;
        try {
          next = await connect(connectionOptions(this.opts));
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'NATS still unreachable or refusing us');
          continue;
        }
        if (this.closing) {
          await next.close().catch(() => {});
          return;
        }
        try {
          await this.attach(next);
          return;
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'new NATS connection failed at once');
          await next.close().catch(() => {});
        }
      }
    } finally {
      this.redialing = false;
    }
  }

  private subscribe(subject: string, onMsg: (m: Msg) => void): Subscription {
    return this.nc.subscribe(subject, {
      callback: (err: NatsError | null, m: Msg) => {
        if (err) {
          this.log.warn({ err, subject }, 'NATS subscription error');
          return;
        }
        try {
          onMsg(m);
        } catch (e) {
          this.log.error({ err: e, subject }, 'p2p handler failed'); // never throw into nats.js
        }
      },
    });
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (nc !== this.nc) return;
      switch (s.type) {
        case Events.Disconnect:
          this.setUp(false);
          if (!this.closing) this.log.warn({ server: s.data }, 'disconnected from NATS; reconnecting');
          break;
        case Events.Reconnect:
          this.setUp(true);
          this.log.info({ server: s.data }, 'reconnected to NATS');
          this.sendHeartbeat();
          break;
        case Events.LDM:
          this.log.info({ server: s.data }, 'NATS server entering lame duck mode; will move to another');
          break;
        case Events.Error:
          this.log.warn({ data: s.data, permission: s.permissionContext }, 'NATS async error');
          break;
        default:
          break;
      }
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.metrics.connected(up);
  }

  private drop(reason: string, detail: object, msg: string): void {
    this.metrics.messageDropped(reason);
    this.log.debug({ reason, ...detail }, msg);
  }

  /** Open an inbound envelope; on any fault count it, log at debug, and return undefined. */
  private open(m: Msg, expect: EnvelopeKind): OpenedEnvelope | undefined {
    let env: OpenedEnvelope;
    try {
      env = openEnvelope(m.data, this.chainId, this.peerKeys);
    } catch (e) {
      this.drop(codeOf(e), { subject: m.subject, err: (e as Error).message }, 'dropped inbound envelope');
      return undefined;
    }
    if (env.from === this.nodeId) return undefined; // our own (noEcho makes this rare)
    if (env.kind !== expect) {
      this.drop(P2pCode.MALFORMED, { subject: m.subject, kind: env.kind, from: env.from }, 'envelope kind does not match its subject');
      return undefined;
    }
    this.lastSeen.set(env.from, Date.now());
    return env;
  }

  private receive(m: Msg, kind: 'consensus' | 'tx' | 'status'): void {
    const env = this.open(m, kind);
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
  private async answer(m: Msg): Promise<void> {
    if (!m.reply) {
      this.drop(P2pCode.MALFORMED, { subject: m.subject }, 'request without a reply subject');
      return;
    }
    const env = this.open(m, 'sync-req');
    const handler = this.requestHandler;
    if (!env || !handler) return;
    let answer: Uint8Array;
    try {
      answer = await handler(env.from, env.payload);
    } catch (e) {
      this.log.warn({ err: e, from: env.from }, 'onRequest handler failed; not answering');
      return;
    }
    if (this.closing || this.nc.isClosed()) return;
    try {
      m.respond(this.seal('sync-res', encodeCbor([sha256(m.data), answer])));
    } catch (e) {
      this.drop(codeOf(e) === P2pCode.TOO_LARGE ? P2pCode.TOO_LARGE : P2pCode.DISCONNECTED, { err: (e as Error).message, to: env.from }, 'could not answer request');
    }
  }

  private seal(kind: EnvelopeKind, payload: Uint8Array): Uint8Array {
    return sealEnvelope(this.chainId, this.nodeId, this.opts.nodeKey, kind, payload, Date.now());
  }

  private sendHeartbeat(): void {
    if (!this.up || this.closing) return;
    try {
      this.nc.publish(this.subjects.status, this.seal('status', new Uint8Array(0)));
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'heartbeat not sent');
    }
  }

  /**
   * Best effort, like the network under it. While disconnected the envelope is dropped
   * (and counted): nats.js 2.29 would queue it, but discards that queue when it dials
   * again (ProtocolHandler.prepare -> resetOutbound), so it would be lost anyway.
   * Consensus re-sends what matters after a reconnect.
   */
  broadcast(kind: BroadcastKind, payload: Uint8Array): void {
    if (kind !== 'consensus' && kind !== 'tx') throw new TypeError(`broadcast kind must be 'consensus' or 'tx', not "${String(kind)}"`);
    if (this.closing) return this.drop(P2pCode.CLOSED, { kind }, 'broadcast after close');
    if (!this.up) return this.drop(P2pCode.DISCONNECTED, { kind }, 'broadcast while disconnected');
    try {
      this.nc.publish(kind === 'consensus' ? this.subjects.consensus : this.subjects.tx, this.seal(kind, payload));
    } catch (e) {
      const code = e instanceof P2pError ? e.code : (e as NatsError).code === ErrorCode.MaxPayloadExceeded ? P2pCode.TOO_LARGE : P2pCode.DISCONNECTED;
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
   * Ask one peer, or any. Our own inbox collects answers; the first one that opens, comes
   * from the peer asked (when one was named) and is bound to this request wins. A forged
   * or stale answer is dropped and we keep waiting, so a bad actor on NATS cannot make us
   * miss a good answer that comes later.
   */
  request(to: string | undefined, payload: Uint8Array, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }> {
    if (this.closing || this.nc.isClosed()) return Promise.reject(new P2pError(P2pCode.CLOSED, 'transport closed'));
    if (to !== undefined && (to === this.nodeId || !this.peerKeys.has(to))) {
      return Promise.reject(new P2pError(P2pCode.UNKNOWN_PEER, `cannot request from "${to}": not a peer`));
    }
    if (!this.up) return Promise.reject(new P2pError(P2pCode.DISCONNECTED, 'not connected to NATS'));
    let req: Uint8Array;
    try {
      req = this.seal('sync-req', payload);
    } catch (e) {
      return Promise.reject(e);
    }
    const digest = sha256(req);
    const subject = to === undefined ? this.subjects.sync : this.subjects.syncTo(to);

    return new Promise((resolve, reject) => {
      const inbox = createInbox();
      let sub: Subscription | undefined;
      let done = false;
      const finish = (err: P2pError | undefined, value?: { from: string; payload: Uint8Array }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        sub?.unsubscribe();
        if (err) reject(err);
        else resolve(value!);
      };
      const fail = (err: P2pError): void => finish(err);
      const timer = setTimeout(() => finish(new P2pError(P2pCode.TIMEOUT, `no answer on ${subject} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.add(fail);
      try {
        sub = this.subscribe(inbox, (m) => {
          // NATS core: an empty message with status 503 means no subscriber on the subject.
          if (m.data.length === 0 && m.headers?.code === 503) {
            return finish(new P2pError(P2pCode.NO_RESPONDERS, `nobody serves ${subject}`));
          }
          const env = this.open(m, 'sync-res');
          if (!env) return;
          if (to !== undefined && env.from !== to) {
            return this.drop(P2pCode.MALFORMED, { from: env.from, to }, 'answer from a peer we did not ask');
          }
          const bound = unbindAnswer(env.payload, digest);
          if (!bound) return this.drop(P2pCode.MALFORMED, { from: env.from }, 'answer not bound to this request');
          finish(undefined, { from: env.from, payload: bound });
        });
        this.nc.publish(subject, req, { reply: inbox });
      } catch (e) {
        finish(new P2pError(P2pCode.DISCONNECTED, `request failed: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  /** Valid peers heard from (any envelope, heartbeats included) within `withinMs`. */
  peers(withinMs = 10_000): string[] {
    const since = Date.now() - withinMs;
    return [...this.lastSeen].filter(([id, t]) => t >= since && id !== this.nodeId).map(([id]) => id).sort();
  }

  /** The server we are connected to now (host:port), for logs and health pages. */
  currentServer(): string | undefined {
    return this.connected() ? this.nc.getServer() : undefined;
  }

  connected(): boolean {
    return this.up && !this.closing && !this.nc.isClosed();
  }

  /** Drain (deliver what is in flight, flush what we sent) and close; bounded at 5 s. */
  async close(): Promise<void> {
    if (this.closing) return this.nc.closed().then(() => {});
    this.closing = true;
    clearInterval(this.heartbeat);
    for (const reject of this.pending) reject(new P2pError(P2pCode.CLOSED, 'transport closed'));
    if (!this.nc.isClosed()) {
      // drain() waits for the server; while disconnected it would wait for a reconnect.
      const drained = this.up ? this.nc.drain().then(() => true, () => false) : Promise.resolve(false);
      const ok = await Promise.race([drained, sleep(5000).then(() => false)]);
      if (!ok && !this.nc.isClosed()) await this.nc.close().catch(() => {});
    }
    await this.nc.closed();
    this.setUp(false);
  }
}

function unbindAnswer(payload: Uint8Array, digest: Uint8Array): Uint8Array | undefined {
  try {
    const v = decodeCanonicalCbor(payload);
    if (!Array.isArray(v) || v.length !== 2) return undefined;
    const [d, answer] = v as unknown[];
    if (!(d instanceof Uint8Array) || !(answer instanceof Uint8Array) || !equalBytes(d, digest)) return undefined;
    return answer;
  } catch {
    return undefined;
  }
}

function checkOptions(opts: NatsTransportOptions): void {
  const bad = (m: string): never => {
    throw new P2pError(P2pCode.CONFIG, m);
  };
  if (!Array.isArray(opts.servers) || opts.servers.length === 0) bad('servers: give at least one NATS URL');
  if (!CHAIN_ID_PATTERN.test(opts.chainId)) bad(`chainId "${opts.chainId}" must match ${CHAIN_ID_PATTERN}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(opts.nodeId)) bad(`nodeId "${opts.nodeId}" must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}`);
  if (opts.nodeKey.type !== 'private' || opts.nodeKey.asymmetricKeyType !== 'ed25519') bad('nodeKey must be an Ed25519 private key');
  const self = opts.peers.find((p) => p.id === opts.nodeId);
  if (self) {
    const ours = createPublicKey(opts.nodeKey).export({ format: 'jwk' }).x;
    if (ours !== Buffer.from(self.publicKey).toString('base64url')) bad(`nodeKey is not the key genesis lists for "${opts.nodeId}"`);
  }
}

function connectionOptions(opts: NatsTransportOptions): ConnectionOptions {
  const o: ConnectionOptions = {
    servers: opts.servers,
    name: `meterledger/${opts.chainId}/${opts.nodeId}`,
    // The server never echoes our own publishes back, and our own sync subscription never
    // answers our own "any" request.
    noEcho: true,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 500,
    reconnectJitter: 100,
    // Default is 2 min x 2 pings: a half-open TCP link would go unnoticed for minutes.
    pingInterval: opts.pingIntervalMs ?? 5000,
    maxPingOut: 2,
    timeout: 5000,
    // Not ignoreAuthErrorAbort: with it, a first connect with a wrong password never
    // returns. Without it nats.js closes after two auth errors in a row: see lost().
    ...(opts.ignoreClusterUpdates ? { ignoreClusterUpdates: true } : {}),
  };
  const a = opts.auth;
  if (a && 'user' in a) Object.assign(o, { user: a.user, pass: a.pass });
  else if (a && 'token' in a) o.token = a.token;
  else if (a && 'nkeySeed' in a) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(a.nkeySeed));
  if (opts.tls) {
    const t: { caFile?: string; certFile?: string; keyFile?: string } = {};
    if (opts.tls.caFile) t.caFile = opts.tls.caFile;
    if (opts.tls.certFile) t.certFile = opts.tls.certFile;
    if (opts.tls.keyFile) t.keyFile = opts.tls.keyFile;
    o.tls = t;
  }
  return o;
}

const AUTH_CODES = new Set<string>([ErrorCode.AuthorizationViolation, ErrorCode.AuthenticationExpired, ErrorCode.BadAuthentication, ErrorCode.AuthenticationTimeout]);

/** One pass over the servers per try; auth errors fail at once, unreachable ones retry until the bound. */
async function connectWithRetry(opts: NatsTransportOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 0);
  const where = opts.servers.join(', ');
  for (;;) {
    try {
      return await connect(connectionOptions(opts));
    } catch (e) {
      const code = (e as NatsError).code;
      if (AUTH_CODES.has(code)) throw new P2pError(P2pCode.AUTH, `NATS at ${where} refused our credentials (${code})`, { cause: e });
      if (Date.now() + (opts.reconnectTimeWaitMs ?? 500) > deadline) {
        throw new P2pError(P2pCode.CONNECT, `cannot reach NATS at ${where}: ${(e as Error).message}`, { cause: e });
      }
      opts.logger?.warn({ err: (e as Error).message, servers: opts.servers }, 'NATS not reachable yet; retrying');
      await sleep(opts.reconnectTimeWaitMs ?? 500);
    }
  }
}
