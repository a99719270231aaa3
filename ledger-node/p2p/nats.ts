/**
 * The NATS carrier: the only code in the node that touches the network between gateways
 * (cometbft's reactor edge). It moves bytes on subjects and nothing more; trust comes
 * from the peer layer above it (./peers.ts), so a NATS operator can drop or delay
 * messages but not forge or replay them.
 *
 * It never gives up: a gateway started while NATS is unreachable opens anyway (its meters
 * deliver durably meanwhile) and joins when a server answers, dialling with a backoff
 * from reconnect.minMs to reconnect.maxMs and saying so in the log at most once a minute.
 * Only a server that refuses our credentials, or a certificate we refuse, on the first
 * contact fails open(): that is a configuration to fix, not an outage to wait out.
 *
 * Answers to our requests come on one inbox subscription, `<inbox>.*`, one token per
 * request: an answer for a token nobody waits on is dropped before any work.
 */
import {
  type ConnectionOptions, type Msg, type NatsConnection, type NatsError, type Subscription,
  ErrorCode, Events, connect, createInbox, nkeyAuthenticator,
} from 'nats';
import { MAX_PEER_ENVELOPE_BYTES } from '../../protocols/index.js';
import type { Carrier, Reply } from './carrier.js';
import { P2pCode, P2pError } from './errors.js';
import { type P2pLogger, PeerLayer, type PeerLayerOptions, noopLogger } from './peers.js';
import { DEFAULT_RECONNECT } from './defaults.js';
import { redactUrls, splitCredentials } from './redact.js';

export type NatsAuth = { user: string; pass: string } | { token: string } | { nkeySeed: string };

export interface NatsCarrierOptions {
  /** e.g. ['nats://127.0.0.1:4222']; give every server of the cluster. Credentials in a URL are used when `auth` is absent. */
  readonly servers: readonly string[];
  /** Shown by the server's monitoring: meterledger/<chain>/<node>. */
  readonly name: string;
  readonly auth?: NatsAuth;
  readonly tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * Use only `servers`, not the client URLs the cluster gossips. Set it when servers
   * are reached through NAT or a proxy, where the addresses they advertise are wrong.
   */
  readonly ignoreClusterUpdates?: boolean;
  /**
   * minMs: wait between attempts on one server while nats.js reconnects, and the first
   * wait of our own dialling (before the first connection, or after nats.js gave up);
   * that doubles up to maxMs. Defaults: DEFAULT_RECONNECT (./defaults.ts).
   */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number };
  /** Client pings; a link silent for about 2 intervals counts as dead (default 5000). */
  readonly pingIntervalMs?: number;
  /** How often dialling says NATS is still unreachable, ms (default 60,000). */
  readonly logEveryMs?: number;
  readonly logger?: P2pLogger;
}

interface Waiting {
  readonly onAnswer: (data: Uint8Array) => void;
  readonly onNoResponders: () => void;
}

type Handler = (data: Uint8Array, reply: Reply | undefined) => void;

const AUTH_CODES = new Set<string>([ErrorCode.AuthorizationViolation, ErrorCode.AuthenticationExpired, ErrorCode.BadAuthentication, ErrorCode.AuthenticationTimeout]);
const TLS_CAUSE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;

/** Why a connection attempt failed, as ours to act on: 'auth' and 'tls' are configuration. */
function failureKind(e: unknown): 'auth' | 'tls' | 'unreachable' {
  const code = (e as NatsError).code;
  if (AUTH_CODES.has(code)) return 'auth';
  const cause = ((e as { chainedError?: { code?: string } }).chainedError?.code ?? (e as { cause?: { code?: string } }).cause?.code ?? '') as string;
  if (code === ErrorCode.Tls || code === ErrorCode.ServerOptionNotAvailable || TLS_CAUSE.test(cause) || TLS_CAUSE.test(String(code))) return 'tls';
  return 'unreachable';
}

const errText = (e: unknown): string => redactUrls(e instanceof Error ? e.message : String(e));

export class NatsCarrier implements Carrier {
  private nc: NatsConnection | undefined;
  private readonly servers: string[];
  private readonly auth: NatsAuth | undefined;
  private readonly subs = new Map<string, Handler[]>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly listeners: ((up: boolean) => void)[] = [];
  private readonly inbox = createInbox();
  private readonly log: P2pLogger;
  private nextToken = 0;
  private up = false;
  private closing = false;
  private dialing = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly opts: NatsCarrierOptions) {
    this.log = opts.logger ?? noopLogger;
    const split = opts.servers.map(splitCredentials);
    this.servers = split.map((s) => s.url);
    const inUrls = split.flatMap((s) => (s.auth ? [JSON.stringify(s.auth)] : []));
    if (new Set(inUrls).size > 1) throw new P2pError(P2pCode.CONFIG, 'servers: the URLs carry different credentials');
    if (opts.auth && inUrls.length > 0) throw new P2pError(P2pCode.CONFIG, 'servers: credentials both in a URL and in the options; give them once');
    this.auth = opts.auth ?? split.find((s) => s.auth)?.auth;
  }

  /**
   * Connect if a server answers, else keep dialling in the background; either way the
   * carrier is returned at once after the first pass over the servers. Throws P2pError
   * E_P2P_AUTH or E_P2P_TLS when the first server reached refuses us or we refuse it.
   */
  static async open(opts: NatsCarrierOptions): Promise<NatsCarrier> {
    if (!Array.isArray(opts.servers) || opts.servers.length === 0) throw new P2pError(P2pCode.CONFIG, 'servers: give at least one NATS URL');
    const c = new NatsCarrier(opts);
    let nc: NatsConnection;
    try {
      nc = await connect(c.connectionOptions());
    } catch (e) {
      const kind = failureKind(e);
      const where = c.servers.join(', ');
      if (kind === 'auth') throw new P2pError(P2pCode.AUTH, `NATS at ${where} refused our credentials (${(e as NatsError).code})`, { cause: e });
      if (kind === 'tls') throw new P2pError(P2pCode.TLS, `TLS with NATS at ${where} failed: ${errText(e)}`, { cause: e });
      c.log.warn({ servers: c.servers, err: errText(e) }, 'NATS not reachable; starting without it and dialling until it answers');
      void c.dialForever();
      return c;
    }
    try {
      await c.attach(nc);
    } catch (e) {
      c.nc = undefined;
      await nc.close().catch(() => {});
      c.log.warn({ err: errText(e) }, 'NATS connection failed at once; dialling until one holds');
      void c.dialForever();
    }
    return c;
  }

  private connectionOptions(): ConnectionOptions {
    const o: ConnectionOptions = {
      servers: this.servers,
      name: this.opts.name,
      // The server never echoes our own publishes back, and our own sync subscription never
      // answers our own "any" request.
      noEcho: true,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.opts.reconnect?.minMs ?? DEFAULT_RECONNECT.minMs,
      reconnectJitter: 100,
      // Default is 2 min x 2 pings: a half-open TCP link would go unnoticed for minutes.
      pingInterval: this.opts.pingIntervalMs ?? 5000,
      maxPingOut: 2,
      timeout: 5000,
      // Not ignoreAuthErrorAbort: with it, a first connect with a wrong password never
      // returns. Without it nats.js closes after two auth errors in a row: see lost().
      ...(this.opts.ignoreClusterUpdates ? { ignoreClusterUpdates: true } : {}),
    };
    const a = this.auth;
    if (a && 'user' in a) Object.assign(o, { user: a.user, pass: a.pass });
    else if (a && 'token' in a) o.token = a.token;
    else if (a && 'nkeySeed' in a) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(a.nkeySeed));
    if (this.opts.tls) {
      const t: { caFile?: string; certFile?: string; keyFile?: string } = {};
      if (this.opts.tls.caFile) t.caFile = this.opts.tls.caFile;
      if (this.opts.tls.certFile) t.certFile = this.opts.tls.certFile;
      if (this.opts.tls.keyFile) t.keyFile = this.opts.tls.keyFile;
      o.tls = t;
    }
    return o;
  }

  /** Subscribe on a (new) connection and follow its state. */
  private async attach(nc: NatsConnection): Promise<void> {
    this.nc = nc;
    const max = nc.info?.max_payload ?? 0;
    if (max < MAX_PEER_ENVELOPE_BYTES) {
      this.log.warn({ maxPayload: max, want: MAX_PEER_ENVELOPE_BYTES }, 'NATS max_payload is below the envelope limit; set max_payload: 8MB on every server or large blocks will not pass');
    }
    for (const subject of this.subs.keys()) this.natsSubscribe(nc, subject);
    this.natsSubscribeInbox(nc);
    void this.watchStatus(nc);
    void nc.closed().then((err) => this.lost(nc, err));
    // The server has our subscriptions once it answers a PING.
    await nc.flush();
    this.setUp(true);
    this.log.info({ server: nc.getServer() }, 'connected to NATS');
  }

  /**
   * Dial until connected or closed. For the first connection, and after nats.js closed
   * for good: it gives up, despite infinite reconnects, after the same auth error twice in
   * a row (a password being rotated, a server restarted with new accounts).
   */
  private async dialForever(): Promise<void> {
    if (this.dialing) return;
    this.dialing = true;
    const minMs = this.opts.reconnect?.minMs ?? DEFAULT_RECONNECT.minMs;
    const maxMs = Math.max(minMs, this.opts.reconnect?.maxMs ?? DEFAULT_RECONNECT.maxMs);
    const logEvery = this.opts.logEveryMs ?? 60_000;
    let delay = minMs;
    let attempts = 0;
    let loggedAt = Date.now();
    try {
      while (!this.closing) {
        await this.pause(delay * (0.8 + 0.4 * Math.random()));
        if (this.closing) return;
        attempts++;
        let next: NatsConnection;
        try {
          next = await connect(this.connectionOptions());
        } catch (e) {
          delay = Math.min(maxMs, delay * 2);
          if (Date.now() - loggedAt >= logEvery) {
            loggedAt = Date.now();
            const refused = failureKind(e) !== 'unreachable';
            this.log.warn({ servers: this.servers, attempts, retryMs: Math.round(delay), err: errText(e) },
              refused ? 'NATS still refusing us; retrying' : 'NATS still unreachable; retrying');
          }
          continue;
        }
        if (this.closing) {
          await next.close().catch(() => {});
          return;
        }
        try {
          await this.attach(next);
          if (attempts > 1) this.log.info({ attempts }, 'NATS reached after retrying');
          return;
        } catch (e) {
          this.log.warn({ err: errText(e) }, 'new NATS connection failed at once');
          await next.close().catch(() => {});
        }
      }
    } finally {
      this.dialing = false;
    }
  }

  /** Sleep, cut short by close(). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private lost(nc: NatsConnection, err: void | Error): void {
    if (nc !== this.nc) return;
    this.setUp(false);
    if (this.closing) return;
    this.log.error({ err: err ? errText(err) : undefined }, 'NATS connection closed for good; dialling a new one');
    void this.dialForever();
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
          break;
        case Events.LDM:
          this.log.info({ server: s.data }, 'NATS server entering lame duck mode; will move to another');
          break;
        case Events.Error:
          this.log.warn({ data: redactUrls(String(s.data)), permission: s.permissionContext }, 'NATS async error');
          break;
        default:
          break;
      }
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    for (const l of this.listeners) l(up);
  }

  private natsSubscribe(nc: NatsConnection, subject: string): Subscription {
    return nc.subscribe(subject, {
      callback: (err: NatsError | null, m: Msg) => {
        if (err) return this.log.warn({ err: errText(err), subject }, 'NATS subscription error');
        const reply: Reply | undefined = m.reply ? (d) => this.respond(m, d) : undefined;
        for (const h of this.subs.get(subject) ?? []) {
          try {
            h(m.data, reply);
          } catch (e) {
            this.log.error({ err: e, subject }, 'p2p handler failed'); // never throw into nats.js
          }
        }
      },
    });
  }

  private natsSubscribeInbox(nc: NatsConnection): void {
    const prefix = `${this.inbox}.`;
    nc.subscribe(`${prefix}*`, {
      callback: (err: NatsError | null, m: Msg) => {
        if (err) return this.log.warn({ err: errText(err) }, 'NATS inbox subscription error');
        const w = this.waiting.get(m.subject.slice(prefix.length));
        if (!w) return; // nobody waits on that token: nothing to do, whatever it holds
        try {
          // NATS core: an empty message with status 503 means no subscriber on the subject.
          if (m.data.length === 0 && m.headers?.code === 503) w.onNoResponders();
          else w.onAnswer(m.data);
        } catch (e) {
          this.log.error({ err: e }, 'p2p answer handler failed');
        }
      },
    });
  }

  private respond(m: Msg, data: Uint8Array): void {
    if (!this.connected()) throw new P2pError(P2pCode.DISCONNECTED, 'not connected to NATS');
    try {
      m.respond(data);
    } catch (e) {
      throw this.sendError(e);
    }
  }

  private sendError(e: unknown): P2pError {
    if ((e as NatsError).code === ErrorCode.MaxPayloadExceeded) return new P2pError(P2pCode.TOO_LARGE, errText(e), { cause: e });
    return new P2pError(P2pCode.DISCONNECTED, errText(e), { cause: e });
  }

  private usable(): NatsConnection {
    if (this.closing) throw new P2pError(P2pCode.CLOSED, 'carrier closed');
    if (!this.connected()) throw new P2pError(P2pCode.DISCONNECTED, 'not connected to NATS');
    return this.nc!;
  }

  /**
   * While disconnected this throws E_P2P_DISCONNECTED rather than queue: nats.js 2.29
   * would queue, but discards that queue when it dials again (ProtocolHandler.prepare ->
   * resetOutbound), so it would be lost anyway.
   */
  publish(subject: string, data: Uint8Array): void {
    const nc = this.usable();
    try {
      nc.publish(subject, data);
    } catch (e) {
      throw this.sendError(e);
    }
  }

  subscribe(subject: string, onMessage: Handler): void {
    const list = this.subs.get(subject);
    if (list) return void list.push(onMessage);
    this.subs.set(subject, [onMessage]);
    if (this.nc && !this.nc.isClosed()) this.natsSubscribe(this.nc, subject);
  }

  request(subject: string, data: Uint8Array, onAnswer: (data: Uint8Array) => void, onNoResponders: () => void): () => void {
    const nc = this.usable();
    const token = (this.nextToken++).toString(36);
    this.waiting.set(token, { onAnswer, onNoResponders });
    try {
      nc.publish(subject, data, { reply: `${this.inbox}.${token}` });
    } catch (e) {
      this.waiting.delete(token);
      throw this.sendError(e);
    }
    return () => void this.waiting.delete(token);
  }

  /** The server we are connected to now (host:port), for logs and health pages. */
  currentServer(): string | undefined {
    return this.connected() ? this.nc!.getServer() : undefined;
  }

  /** The live connection, for the JetStream client beside this carrier (./jetstream.ts); undefined while down. */
  connection(): NatsConnection | undefined {
    return this.connected() ? this.nc : undefined;
  }

  connected(): boolean {
    return this.up && !this.closing && this.nc !== undefined && !this.nc.isClosed();
  }

  onConnectionChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Drain (deliver what is in flight, flush what we sent) and close; bounded at 5 s. */
  async close(): Promise<void> {
    const nc = this.nc;
    if (this.closing) {
      await nc?.closed();
      return;
    }
    this.closing = true;
    this.wake?.();
    this.waiting.clear();
    if (nc && !nc.isClosed()) {
      // drain() waits for the server; while disconnected it would wait for a reconnect.
      const drained = this.up ? nc.drain().then(() => true, () => false) : Promise.resolve(false);
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([drained, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000)))]);
      clearTimeout(timer);
      if (!ok && !nc.isClosed()) await nc.close().catch(() => {});
    }
    await nc?.closed();
    this.setUp(false);
  }
}

/** The peer layer over NATS: what a gateway runs. The carrier is closed again if the layer refuses its options. */
export async function openNatsPeerLayer(nats: NatsCarrierOptions, peer: PeerLayerOptions): Promise<{ layer: PeerLayer; carrier: NatsCarrier }> {
  const carrier = await NatsCarrier.open(nats);
  try {
    return { layer: new PeerLayer(carrier, peer), carrier };
  } catch (e) {
    await carrier.close();
    throw e;
  }
}
