/**
 * MqttBroker: the embedded aedes broker meters publish readings to. It installs the
 * auth/ACL/QoS hooks (hooks.ts) over its session store (persistence.ts), turns committed
 * readings into receipts on `meters/<id>/receipts`, and serves any Duplex stream given to
 * handle(); start() also opens the listeners (listeners.ts, the only code with sockets).
 */
import { Aedes } from 'aedes';
import type { Duplex } from 'node:stream';
import type { IntakePort } from '../../protocols/intake.js';
import { accountFilterProblem } from './acl.js';
import { publishToBills } from './bills.js';

/** A meter's bills topic, exactly (no wildcard: acl.ts grants only the meter its own). */
const BILLS_TOPIC = /^meters\/([^/+#]+)\/bills$/;
import type { BillsTopicMessage } from '../../protocols/bills-topic.js';
import type { MqttAccount, SignatureCheck } from './auth.js';
import { verifySignature } from '../../protocols/keys.js';
import { guardReads } from './frame-guard.js';
import { type InstalledHooks, type ReceiptLookup, installHooks, publishToReceipts } from './hooks.js';
import { committedMessage } from '../../protocols/mqtt.js';
import { type ConnectionInfo, type Listeners, startListeners } from './listeners.js';
import { LoginThrottle } from './login-throttle.js';
import { type BridgeLogger, silentLogger } from './logger.js';
import { type BridgeMetrics, noopBridgeMetrics } from './metrics.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS_PER_LISTENER, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_MAX_SESSIONS_PER_METER,
  DEFAULT_SESSION_EXPIRY_MS, DEFAULT_TOKEN_MAX_AGE_MS,
} from './defaults.js';
import { isPasswordHash } from './password.js';
import { SessionStore } from './persistence.js';
import { SessionRegistry } from './sessions.js';

export type { MqttAccount } from './auth.js';
export type { ReceiptLookup } from './hooks.js';

export interface MqttBrokerOptions {
  readonly intake: IntakePort;
  /** port 0 = ephemeral */
  readonly tcp?: { host: string; port: number };
  readonly tls?: { host: string; port: number; key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  /** MQTT over WebSocket, path /mqtt */
  readonly ws?: { host: string; port: number };
  readonly accounts?: readonly MqttAccount[];
  /** default false */
  readonly allowAnonymous?: boolean;
  /** default 300_000 */
  readonly tokenMaxAgeMs?: number;
  /** default 4096; a larger PUBLISH to readings gets an E_READING_TOO_LARGE rejection */
  readonly maxPayloadBytes?: number;
  readonly logger?: BridgeLogger;
  readonly metrics?: BridgeMetrics;
  readonly now?: () => number;
  /**
   * How CONNECT token signatures are checked. Default: protocols' pure verifySignature;
   * the gateway passes OpenSSL's (about 10x cheaper on the event loop during reconnect bursts).
   */
  readonly verifySignature?: SignatureCheck;
  /** Sockets each listener holds at most; default 20,000. */
  readonly maxConnectionsPerListener?: number;
  /**
   * Time a new connection has to send CONNECT, and before that to finish its TLS
   * handshake or WebSocket upgrade; default 10,000 ms.
   */
  readonly connectTimeoutMs?: number;
  /** Sessions one meter may hold, connected or stored; default 4. */
  readonly maxSessionsPerMeter?: number;
  /** Messages queued per session at most; default 1,000. */
  readonly maxQueuedMessages?: number;
  /** A stored session ends this long after its last connection closed; default 7 days. */
  readonly sessionExpiryMs?: number;
  /** Meters whose receipts topic carries full receipts (§7) instead of compact ones (docs/protocol.md §8.3.1). */
  readonly fullReceipts?: readonly string[];
  /** Where full receipts asked for on `meters/<id>/receipts/get` come from (§8.3.2); without it, none is found. */
  readonly receipts?: ReceiptLookup;
}

export {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS_PER_LISTENER, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_MAX_SESSIONS_PER_METER,
  DEFAULT_SESSION_EXPIRY_MS, DEFAULT_TOKEN_MAX_AGE_MS,
} from './defaults.js';

/**
 * Largest MQTT packet (Remaining Length) accepted at all; a bigger one drops the client
 * before it is buffered. Room above maxPayloadBytes so an oversized reading still gets
 * its E_READING_TOO_LARGE answer.
 */
export const maxPacketBytes = (maxPayloadBytes: number): number => 4 * maxPayloadBytes + 1024;

/** On close, how long readings already received get to be answered before clients are cut. */
const QUIESCE_MS = 5000;

function accountMap(accounts: readonly MqttAccount[]): Map<string, MqttAccount> {
  const map = new Map<string, MqttAccount>();
  for (const a of accounts) {
    if (!a.username) throw new TypeError('mqtt account: username must not be empty');
    // client-ids.ts: an account owns `<username>` and `<username>/<suffix>`.
    if (a.username.includes('/')) throw new TypeError(`mqtt account "${a.username}": username must not contain "/"`);
    if (map.has(a.username)) throw new TypeError(`mqtt account "${a.username}": duplicate username`);
    if (!isPasswordHash(a.passwordHash)) throw new TypeError(`mqtt account "${a.username}": passwordHash is not a hashPassword() scrypt hash`);
    for (const f of [...(a.publish ?? []), ...(a.subscribe ?? [])]) {
      const problem = accountFilterProblem(f);
      if (problem) throw new TypeError(`mqtt account "${a.username}": ${problem}`);
    }
    map.set(a.username, a);
  }
  return map;
}

const positive = (name: string, v: number): number => {
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer`);
  return v;
};

export class MqttBroker {
  private closing: Promise<void> | undefined;
  private listeners: Listeners | undefined;

  private constructor(
    private readonly aedes: Aedes,
    private readonly hooks: InstalledHooks,
    private readonly limit: number,
    private readonly log: BridgeLogger,
    private readonly stopTimers: () => void,
    private readonly sessions: SessionRegistry,
  ) {}

  /** The broker with no listener: connections come through handle(). */
  static async create(opts: MqttBrokerOptions): Promise<MqttBroker> {
    const maxPayloadBytes = positive('maxPayloadBytes', opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
    const tokenMaxAgeMs = opts.tokenMaxAgeMs ?? DEFAULT_TOKEN_MAX_AGE_MS;
    if (!(tokenMaxAgeMs > 0)) throw new TypeError('tokenMaxAgeMs must be positive');
    const connectTimeout = positive('connectTimeoutMs', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const expiryMs = positive('sessionExpiryMs', opts.sessionExpiryMs ?? DEFAULT_SESSION_EXPIRY_MS);
    const sessions = new SessionRegistry({ maxPerMeter: positive('maxSessionsPerMeter', opts.maxSessionsPerMeter ?? DEFAULT_MAX_SESSIONS_PER_METER), expiryMs });
    const log = opts.logger ?? silentLogger;
    const accounts = accountMap(opts.accounts ?? []);
    const store = new SessionStore({
      principalOf: (id) => sessions.principalOf(id),
      sessionPresent: (id) => sessions.sessionPresent(id),
      maxQueued: positive('maxQueuedMessages', opts.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES),
      onQueueFull: (clientId) => log.warn({ clientId }, 'mqtt session queue full: messages for it are dropped until it takes some'),
    });

    // concurrency: deliveries mqemitter runs at once (aedes default 100). A committed block
    // publishes one receipt per reading at once; beyond the limit they wait in an array
    // drained with shift(), quadratic in its length (11% of the gateway's main thread at
    // 2,000 receipts per block, docs/performance.md). 2,000 matches ledger.blockMaxTxs.
    const aedes = await Aedes.createBroker({ connectTimeout, drainTimeout: 30_000, concurrency: 2000, persistence: store });
    const now = opts.now ?? Date.now;
    const hooks = installHooks(aedes, {
      intake: opts.intake, accounts, allowAnonymous: opts.allowAnonymous ?? false, tokenMaxAgeMs,
      now, maxPayloadBytes, logger: log, metrics: opts.metrics ?? noopBridgeMetrics,
      verify: opts.verifySignature ?? verifySignature, throttle: new LoginThrottle(), sessions, store,
      ...(opts.receipts ? { receipts: opts.receipts } : {}),
    });
    const fullReceipts = new Set(opts.fullReceipts ?? []);
    const detachCommitted = opts.intake.onCommitted((c) => {
      try {
        publishToReceipts(aedes, c.meterId, committedMessage(c, fullReceipts.has(c.meterId)))
          .catch((err: unknown) => {
            // Receipts of the blocks the node commits while it stops find the broker closed.
            if (hooks.closing) log.debug({ err: (err as Error).message, meterId: c.meterId }, 'mqtt broker closing: receipt not published');
            else log.error({ err, meterId: c.meterId }, 'mqtt could not publish receipt');
          });
      } catch (err) {
        log.error({ err, meterId: c.meterId }, 'mqtt could not encode receipt');
      }
    });
    // An accepted reading a block made invalid: the meter learns it as a rejection (§8.3).
    const detachDropped = opts.intake.onDropped((d) => {
      publishToReceipts(aedes, d.meterId, { status: 'rejected', txHash: d.txHash, code: d.code, message: d.message, seq: d.seq })
        .catch((err: unknown) => log.error({ err, meterId: d.meterId }, 'mqtt could not publish a rejection'));
    });
    const detach = (): void => {
      detachCommitted();
      detachDropped();
    };
    // Expiry is checked a few times per expiry period, at least once a minute.
    const sweep = setInterval(() => hooks.expireSessions(), Math.max(10, Math.min(expiryMs / 4, 60_000)));
    sweep.unref();
    const stopTimers = (): void => {
      clearInterval(sweep);
      detach();
    };
    return new MqttBroker(aedes, hooks, maxPacketBytes(maxPayloadBytes), log, stopTimers, sessions);
  }

  /** create(), then open the listeners of `opts`. */
  static async start(opts: MqttBrokerOptions): Promise<MqttBroker> {
    const broker = await MqttBroker.create(opts);
    try {
      broker.listeners = await startListeners(opts, (conn, info) => broker.handle(conn, info), broker.log, {
        maxConnections: positive('maxConnectionsPerListener', opts.maxConnectionsPerListener ?? DEFAULT_MAX_CONNECTIONS_PER_LISTENER),
        setupTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        maxWsPayload: broker.limit + 16,
      });
    } catch (e) {
      await broker.close();
      throw e;
    }
    broker.log.info({ ...broker.listeners.addresses() }, 'mqtt broker listening');
    return broker;
  }

  /** Serve one MQTT connection over any Duplex stream (a socket, a WebSocket, an in-process pair). */
  handle(conn: Duplex, info: ConnectionInfo = {}): void {
    try {
      guardReads(conn, this.limit, (reason) => {
        this.log.warn({ reason }, 'mqtt packet refused before parsing; dropping client');
        conn.destroy();
      });
      this.hooks.accept(conn, info);
      this.aedes.handle(conn);
    } catch (err) {
      this.log.error({ err }, 'mqtt could not take connection');
      conn.destroy();
    }
  }

  /**
   * Publish on a meter's bills topic (docs/protocol.md §8.7): its committed bills and the
   * outcomes of its payments. Logged, never thrown: a message lost to a closing broker is
   * in the ledger anyway.
   */
  publishBills(meterId: string, m: BillsTopicMessage): void {
    publishToBills(this.aedes, meterId, m).catch((err: unknown) => {
      if (this.hooks.closing) this.log.debug({ err: (err as Error).message, meterId }, 'mqtt broker closing: bills message not published');
      else this.log.error({ err, meterId }, 'mqtt could not publish on bills topic');
    });
  }

  /**
   * `listener(meterId)` after each granted SUBSCRIBE to a meter's bills topic, once the
   * subscription is in place (docs/protocol.md §8.7: the meter's unpaid bills are sent
   * again then). Returns a function that removes the listener.
   */
  onBillsSubscribed(listener: (meterId: string) => void): () => void {
    const f = (subs: readonly { topic: string; qos: number }[]): void => {
      for (const s of subs) {
        const m = BILLS_TOPIC.exec(s.topic);
        // 128: refused (only the meter itself is granted its bills topic, acl.ts).
        if (m && s.qos !== 128) listener(m[1]!);
      }
    };
    this.aedes.on('subscribe', f);
    return () => {
      this.aedes.removeListener('subscribe', f);
    };
  }

  /** The bound ports (none without listeners). */
  addresses(): { tcp?: number; tls?: number; ws?: number } {
    return this.listeners?.addresses() ?? {};
  }

  connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /** Sessions held: connected ones and stored persistent ones. */
  sessionCount(): number {
    return this.sessions.size();
  }

  /**
   * Stop accepting connections and readings, answer the readings already received (the
   * intake must still be open: close the node after this), close clients and servers.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopTimers();
      const drain = async (): Promise<void> => {
        await this.hooks.quiesce(QUIESCE_MS);
        await new Promise<void>((r) => this.aedes.close(() => r()));
      };
      if (this.listeners) await this.listeners.close(drain);
      else await drain();
    })();
    return this.closing;
  }
}
