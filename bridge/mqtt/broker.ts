/**
 * MqttBroker: the embedded aedes broker meters publish readings to. It opens the
 * listeners, installs the auth/ACL/QoS hooks (hooks.ts) and turns committed readings
 * into receipts on `meters/<id>/receipts`.
 */
import { Aedes } from 'aedes';
import type { IntakePort } from '../../protocols/intake.js';
import { accountFilterProblem } from './acl.js';
import type { MqttAccount, SignatureCheck } from './auth.js';
import { verifySignature } from '../../protocols/keys.js';
import { guardReads } from './frame-guard.js';
import { type HooksHandle, installHooks, publishToReceipts } from './hooks.js';
import { type Listeners, startListeners } from './listeners.js';
import { type BridgeLogger, silentLogger } from './logger.js';
import { type BridgeMetrics, noopBridgeMetrics } from './metrics.js';
import { isPasswordHash } from './password.js';

export type { MqttAccount } from './auth.js';

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
}

export const DEFAULT_TOKEN_MAX_AGE_MS = 300_000;
export const DEFAULT_MAX_PAYLOAD_BYTES = 4096;

/**
 * Largest MQTT packet (Remaining Length) accepted at all; a bigger one drops the client
 * before it is buffered. Room above maxPayloadBytes so an oversized reading still gets
 * its E_READING_TOO_LARGE answer.
 */
export const maxPacketBytes = (maxPayloadBytes: number): number => 4 * maxPayloadBytes + 1024;

/** On close, how long readings already received get to be answered before clients are cut. */
const QUIESCE_MS = 5000;

/** aedes waits this long for CONNECT on a fresh connection (its default is 30 s). */
const CONNECT_TIMEOUT_MS = 10_000;

function accountMap(accounts: readonly MqttAccount[]): Map<string, MqttAccount> {
  const map = new Map<string, MqttAccount>();
  for (const a of accounts) {
    if (!a.username) throw new TypeError('mqtt account: username must not be empty');
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

export class MqttBroker {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly aedes: Aedes,
    private readonly listeners: Listeners,
    private readonly hooks: HooksHandle,
    private readonly detach: () => void,
  ) {}

  static async start(opts: MqttBrokerOptions): Promise<MqttBroker> {
    const maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 1) throw new TypeError('maxPayloadBytes must be a positive integer');
    const tokenMaxAgeMs = opts.tokenMaxAgeMs ?? DEFAULT_TOKEN_MAX_AGE_MS;
    if (!(tokenMaxAgeMs > 0)) throw new TypeError('tokenMaxAgeMs must be positive');
    const log = opts.logger ?? silentLogger;
    const accounts = accountMap(opts.accounts ?? []);
    const limit = maxPacketBytes(maxPayloadBytes);

    // concurrency: deliveries mqemitter runs at once (aedes default 100). A committed block
    // publishes one receipt per reading at once; beyond the limit they wait in an array
    // drained with shift(), quadratic in its length (11% of the gateway's main thread at
    // 2,000 receipts per block, docs/performance.md). 2,000 matches ledger.blockMaxTxs.
    const aedes = await Aedes.createBroker({ connectTimeout: CONNECT_TIMEOUT_MS, drainTimeout: 30_000, concurrency: 2000 });
    const hooks = installHooks(aedes, {
      intake: opts.intake, accounts, allowAnonymous: opts.allowAnonymous ?? false, tokenMaxAgeMs,
      now: opts.now ?? Date.now, maxPayloadBytes, logger: log, metrics: opts.metrics ?? noopBridgeMetrics,
      verify: opts.verifySignature ?? verifySignature,
    });
    const detach = opts.intake.onCommitted((c) => {
      try {
        publishToReceipts(aedes, c.meterId, { status: 'committed', txHash: c.txHash, seq: c.seq, height: c.height, receipt: c.receipt })
          .catch((err: unknown) => {
            // Receipts of the blocks the node commits while it stops find the broker closed.
            if (hooks.closing) log.debug({ err: (err as Error).message, meterId: c.meterId }, 'mqtt broker closing: receipt not published');
            else log.error({ err, meterId: c.meterId }, 'mqtt could not publish receipt');
          });
      } catch (err) {
        log.error({ err, meterId: c.meterId }, 'mqtt could not encode receipt');
      }
    });
    let listeners: Listeners;
    try {
      listeners = await startListeners(opts, (conn, req) => {
        try {
          guardReads(conn, limit, (reason) => {
            log.warn({ reason }, 'mqtt packet refused before parsing; dropping client');
            conn.destroy();
          });
          aedes.handle(conn, req);
        } catch (err) {
          log.error({ err }, 'mqtt could not take connection');
          conn.destroy();
        }
      }, log, limit + 16);
    } catch (e) {
      detach();
      await new Promise<void>((r) => aedes.close(() => r()));
      throw e;
    }
    log.info({ ...listeners.addresses() }, 'mqtt broker listening');
    return new MqttBroker(aedes, listeners, hooks, detach);
  }

  /** The bound ports. */
  addresses(): { tcp?: number; tls?: number; ws?: number } {
    return this.listeners.addresses();
  }

  connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /**
   * Stop accepting connections and readings, answer the readings already received (the
   * intake must still be open: close the node after this), close clients and servers.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.detach();
      await this.listeners.close(async () => {
        await this.hooks.quiesce(QUIESCE_MS);
        await new Promise<void>((r) => this.aedes.close(() => r()));
      });
    })();
    return this.closing;
  }
}
