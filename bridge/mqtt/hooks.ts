/**
 * The aedes handlers: authentication at CONNECT, the sessions it opens, the topic ACL,
 * and the QoS rules for readings. Every handler catches its own failures: an exception
 * here must cost at most one connection, never the process.
 */
import type { Aedes, AedesPublishPacket, Client, ConnectPacket, PublishPacket } from 'aedes';
import type { Duplex } from 'node:stream';
import { ReasonCode } from '../../protocols/errors.js';
import type { IntakePort } from '../../protocols/intake.js';
import { type ReceiptsTopicMessage, encodeReceiptsTopicMessage, receiptRequestTopic as receiptRequestTopicOf, receiptsTopic } from '../../protocols/mqtt.js';
import { compactReceiptOf, decodeReceiptRequest } from '../../protocols/compact-receipt.js';
import { ProtocolError } from '../../protocols/errors.js';
import { sha256 } from '../../protocols/hash.js';
import type { Receipt } from '../../protocols/receipt.js';
import { decodeAnyTx, isAnyReadingTx } from '../../protocols/tx.js';
import { type Principal, decidePublish, deliveryQos, mayReceive, mayRegisterWill, maySubscribe } from './acl.js';
import { type AuthConfig, authenticateConnect } from './auth.js';
import type { ConnectionInfo } from './listeners.js';
import { sourceOf } from './login-throttle.js';
import type { BridgeLogger } from './logger.js';
import type { BridgeMetrics, ConnectRefusal } from './metrics.js';
import { SESSION_PLACEHOLDER, type SessionStore, grantedOf } from './persistence.js';
import { type ReadingOutcome, busyRejection, submitReading, wrongMeterRejection } from './readings.js';
import { type PaymentOutcome, paymentRefusal, publishToBills, submitPayment } from './bills.js';
import type { SessionRegistry } from './sessions.js';
import { peerIdentityOf } from './tls-identity.js';
import { RequestLimiter } from './request-limit.js';

export interface HookConfig extends AuthConfig {
  readonly intake: IntakePort;
  readonly maxPayloadBytes: number;
  readonly logger: BridgeLogger;
  readonly metrics: BridgeMetrics;
  readonly sessions: SessionRegistry;
  /** The persistence aedes was created with. */
  readonly store: SessionStore;
  /** Full receipts for `meters/<id>/receipts/get` (docs/protocol.md §8.3.2). */
  readonly receipts?: ReceiptLookup;
}

/** Where the broker finds committed receipts: the ledger's read side, by identity and by hash. */
export interface ReceiptLookup {
  bySeq(meterId: string, seq: bigint): Promise<Receipt | undefined>;
  byTxHash(hash: Uint8Array): Promise<Receipt | undefined>;
}

/** What the broker keeps of its hooks: to take connections, end sessions, and shut down without losing an answer. */
export interface InstalledHooks {
  /** Note where `conn` comes from, before aedes takes it. */
  accept(conn: Duplex, info: ConnectionInfo): void;
  /** End the stored sessions that have been offline for longer than their expiry. */
  expireSessions(): void;
  /**
   * Refuse readings that arrive from now on (no ack: the meter resends them after
   * reconnecting) and wait, at most `timeoutMs`, until those already received are
   * answered, so their PUBACKs go out while the intake is still open.
   */
  quiesce(timeoutMs: number): Promise<void>;
  /** True once quiesce() was called: a receipt that cannot be published is no fault then. */
  readonly closing: boolean;
}

interface Session {
  readonly principal: Principal;
  /** Readings of one client are handled one after another, in the order they came. */
  queue: Promise<void>;
  /** Set once the gateway said BUSY: later readings on this connection are not acked either. */
  busy: boolean;
}

/** How long a BUSY client gets to read its rejection before the connection is cut. */
const BUSY_CLOSE_GRACE_MS = 2000;

/**
 * Where a meter's refused PUBLISH goes once acknowledged: under meters/, where nobody
 * but a meter receives anything, and a meter only its own receipts topic.
 */
const refusedTopic = (meterId: string): string => `meters/${meterId}/refused`;

const REFUSALS: Record<number, ConnectRefusal> = {
  1: 'unacceptable_protocol', 2: 'identifier_rejected', 3: 'server_unavailable', 4: 'bad_credentials', 5: 'not_authorized',
};

/** A Buffer over the same bytes (no copy). */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Publish a message on a meter's receipts topic, QoS 1, through aedes (queued for persistent sessions). */
export function publishToReceipts(aedes: Aedes, meterId: string, m: ReceiptsTopicMessage): Promise<void> {
  const packet: PublishPacket = {
    cmd: 'publish', topic: receiptsTopic(meterId), payload: asBuffer(encodeReceiptsTopicMessage(m)), qos: 1, retain: false, dup: false,
  };
  return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
}

const once = <A extends unknown[]>(f: (...a: A) => void): ((...a: A) => void) => {
  let called = false;
  return (...a: A) => {
    if (!called) {
      called = true;
      f(...a);
    }
  };
};

/**
 * The payload as bytes of its own: a copy, since the parser's Buffer is a view into the
 * socket's read chunk (keeping it would keep the whole chunk alive while the reading waits
 * for its block). Buffer.from copies into Node's shared pool for small sizes, cheaper than
 * a typed array with a backing store of its own per reading.
 */
const bytesOf = (p: Buffer | string): Uint8Array => Buffer.from(p);

/** End our side after queued writes are flushed, wait for the close (bounded). */
function endGracefully(conn: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (conn.destroyed) return resolve();
    const timer = setTimeout(resolve, BUSY_CLOSE_GRACE_MS);
    conn.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    conn.end();
  });
}

export function installHooks(aedes: Aedes, cfg: HookConfig): InstalledHooks {
  const { logger: log, metrics, store } = cfg;
  let closing = false;
  let underway = 0;
  let drained: (() => void) | undefined;
  const connects = new WeakMap<Client, ConnectPacket>();
  const sessions = new WeakMap<Client, Session>();
  const origins = new WeakMap<Duplex, ConnectionInfo>();
  const requestLimiter = new RequestLimiter();

  aedes.preConnect = (client, packet, cb) => {
    connects.set(client, packet);
    cb(null, true);
  };

  aedes.authenticate = (client, username, password, callback) => {
    const done = once(callback);
    const packet = connects.get(client);
    connects.delete(client);
    Promise.resolve()
      .then(() => authenticateConnect({
        clientId: packet?.clientId ?? '', clean: packet?.clean ?? true, username, password,
        willTopic: packet?.will?.topic, peer: peerIdentityOf(client.conn), source: sourceOf(origins.get(client.conn)?.remoteAddress),
      }, cfg))
      .then((outcome) => {
        if (outcome.ok) {
          openSession(client, packet?.clean ?? true, outcome.principal);
          log.debug({ clientId: client.id, principal: outcome.principal.kind }, 'mqtt client authenticated');
          return done(null, true);
        }
        log.info({ clientId: client.id, username, returnCode: outcome.returnCode, reason: outcome.reason, detail: outcome.detail }, 'mqtt connect refused');
        done(Object.assign(new Error(outcome.detail), { returnCode: outcome.returnCode }), null);
      })
      .catch((err: unknown) => {
        log.error({ err, clientId: client.id }, 'mqtt authentication failed');
        done(Object.assign(new Error('authentication failed'), { returnCode: 3 as const }), null);
      });
  };

  /** Register the session; end what it displaces (over the per-meter cap). */
  function openSession(client: Client, clean: boolean, principal: Principal): void {
    const conn = client.conn as Duplex;
    const id = client.id;
    sessions.set(client, { principal, queue: Promise.resolve(), busy: false });
    const { evicted } = cfg.sessions.connect(id, principal, clean, conn, cfg.now());
    // The connection may have closed while the CONNECT was being checked.
    if (conn.closed) cfg.sessions.disconnect(id, conn, cfg.now());
    else conn.once('close', () => cfg.sessions.disconnect(id, conn, cfg.now()));
    for (const v of evicted) {
      log.info({ clientId: v.clientId, meterId: principal.kind === 'meter' ? principal.meterId : undefined, maxPerMeter: cfg.sessions.limits.maxPerMeter },
        'mqtt session ended: its meter opened one more than it may hold');
      const wipe = (): void => {
        if (v.persistent) store.wipe(v.clientId).catch((err: unknown) => log.error({ err, clientId: v.clientId }, 'mqtt could not wipe a session'));
      };
      const victim = v.conn as Duplex | undefined;
      if (!victim || victim.destroyed) wipe();
      else {
        victim.once('close', wipe);
        victim.destroy();
      }
    }
  }

  aedes.authorizePublish = (client, packet, callback) => {
    const cb = once(callback);
    try {
      const session = client ? sessions.get(client) : undefined;
      if (!client || !session) return cb(new Error('publish from an unauthenticated client'));
      // aedes publishes a Will through here after the client closed.
      if (client.closed) return cb(mayRegisterWill(session.principal, packet.topic) ? null : new Error('will not allowed'));
      // [MQTT-3.3.1-3] the DUP flag of a received PUBLISH is not passed on to subscribers.
      packet.dup = false;
      const d = decidePublish(session.principal, packet.topic);
      if (d.kind === 'allow') return cb(null);
      if (d.kind === 'deny') {
        log.warn({ clientId: client.id, topic: packet.topic, reason: d.reason }, 'mqtt publish refused');
        // [MQTT-3.3.5-2] 3.1.1 has no negative PUBACK: an unauthorized PUBLISH closes the connection.
        return cb(new Error(d.reason));
      }
      // A meter's PUBLISH reaches the intake or nobody. Not retained, departing from
      // [MQTT-3.3.1-5] on purpose: no client may receive it, so there is nothing to keep.
      packet.retain = false;
      const topic = packet.topic;
      if (d.kind === 'wrong-meter') packet.topic = refusedTopic(d.meterId);
      const work = closing
        ? () => Promise.resolve(new Error('gateway shutting down: reading not acknowledged'))
        : d.kind === 'reading'
          ? () => onReading(client, session, packet, d.meterId)
          : d.kind === 'payment'
            ? () => onPayment(client, session, packet, d.meterId)
            : d.kind === 'receipt-request'
              ? () => onReceiptRequest(packet, d.meterId, d.forMeter)
              : () => onWrongMeter(packet, d.meterId, topic, d.topicMeterId);
      underway++;
      const next = session.queue.then(work);
      const done = (): void => {
        if (--underway === 0) drained?.();
      };
      session.queue = next.then(done, done);
      next
        .then(cb, (err: unknown) => {
          log.error({ err, clientId: client.id }, 'mqtt reading handling failed');
          cb(err instanceof Error ? err : new Error(String(err))); // no ack: the client resends
        })
        .catch((err: unknown) => log.error({ err, clientId: client.id }, 'mqtt publish callback threw'));
    } catch (err) {
      log.error({ err }, 'mqtt authorizePublish failed');
      cb(err instanceof Error ? err : new Error(String(err)));
    }
  };

  // What a meter publishes (readings, payments, receipt requests, refusals) is the gateway's
  // and is delivered to nobody (acl.ts mayReceive: under meters/ a client receives only its own
  // receipts and bills, which the bridge publishes itself). After its PUBACK aedes would still
  // route it through its bus: a packet copy, the offline sessions' lookup, the topic match, and
  // an authorizeForward refusal for every broad subscription. It ends at the ack instead
  // (issue 15). `MLBENCH_READINGS_BUS=aedes` in the environment keeps aedes' path: the bench's
  // before/after switch, no setting.
  if (process.env.MLBENCH_READINGS_BUS !== 'aedes') {
    const publish = aedes.publish.bind(aedes) as unknown as (packet: PublishPacket, client: Client | null, done: (err?: Error) => void) => void;
    (aedes as { publish: unknown }).publish = (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void): void => {
      if (typeof client === 'function') return publish(packet, null, client);
      if (client && sessions.get(client)?.principal.kind === 'meter') return done?.();
      publish(packet, client, done ?? (() => {}));
    };
  }

  /** Publish a rejection; a failure to do so is logged, not fatal to the ack decision. */
  async function tellMeter(meterId: string, m: ReceiptsTopicMessage): Promise<void> {
    try {
      await publishToReceipts(aedes, meterId, m);
    } catch (err) {
      if (closing) log.debug({ err: (err as Error).message, meterId }, 'mqtt broker closing: receipts topic message not published');
      else log.error({ err, meterId }, 'mqtt could not publish on receipts topic');
    }
  }

  /** Resolves null to acknowledge, or an Error to close without acknowledging. */
  async function onReading(client: Client, session: Session, packet: PublishPacket, meterId: string): Promise<Error | null> {
    metrics.publishReceived();
    const payload = bytesOf(packet.payload);
    // [MQTT-4.3.3-2] a QoS 2 retransmission of a stored PUBLISH gets its PUBREC again; submit once.
    if (packet.qos === 2 && (await store.incomingGetPacket(client, packet as never).then(() => true, () => false))) return null;
    const outcome: ReadingOutcome = session.busy
      ? { ack: false, byBridge: true, rejection: busyRejection(payload, 'gateway busy: retransmit after reconnecting') }
      : await submitReading(cfg.intake, meterId, payload, cfg.maxPayloadBytes);
    if (outcome.rejection) {
      if (outcome.byBridge && outcome.rejection.status === 'rejected') metrics.readingRefused(outcome.rejection.code);
      log.info({ meterId, code: outcome.rejection.status === 'rejected' ? outcome.rejection.code : undefined }, 'mqtt reading rejected');
      await tellMeter(meterId, outcome.rejection);
    }
    // QoS 1 and 2: returning null lets aedes send PUBACK / PUBREC, only now that the
    // intake answered. QoS 0 has no ack and no redelivery: a rejection is all it gets.
    if (outcome.ack || packet.qos === 0) return null;
    // E_GATEWAY_BUSY: withhold the ack and close. [MQTT-4.4.0-1] a client reconnecting
    // with CleanSession=0 must resend its un-acknowledged PUBLISH packets, so the
    // reading goes back to the meter instead of being acked and lost.
    session.busy = true;
    await endGracefully(client.conn as Duplex);
    return new Error(`${ReasonCode.BUSY}: reading not acknowledged, client disconnected`);
  }

  /**
   * A payment the meter signed (docs/protocol.md §8.7): acknowledged as a reading is (after
   * durable accept or a definitive refusal; not while busy), the refusal on its bills topic.
   */
  async function onPayment(client: Client, session: Session, packet: PublishPacket, meterId: string): Promise<Error | null> {
    metrics.publishReceived();
    const payload = bytesOf(packet.payload);
    if (packet.qos === 2 && (await store.incomingGetPacket(client, packet as never).then(() => true, () => false))) return null;
    const outcome: PaymentOutcome = session.busy
      ? { ack: false, refusal: paymentRefusal(meterId, payload, ReasonCode.BUSY, 'gateway busy: retransmit after reconnecting') }
      : await submitPayment(cfg.intake, meterId, payload, cfg.maxPayloadBytes);
    if (outcome.refusal) {
      if (outcome.refusal.status === 'refused') metrics.paymentRefused(outcome.refusal.code as ReasonCode);
      log.info({ meterId, code: outcome.refusal.status === 'refused' ? outcome.refusal.code : undefined }, 'mqtt payment refused');
      await publishToBills(aedes, meterId, outcome.refusal).catch((err: unknown) => log.error({ err, meterId }, 'mqtt could not publish on bills topic'));
    }
    if (outcome.ack || packet.qos === 0) return null;
    session.busy = true;
    await endGracefully(client.conn as Duplex);
    return new Error(`${ReasonCode.BUSY}: payment not acknowledged, client disconnected`);
  }

  /**
   * A meter's PUBLISH on any topic but its own readings and payments topics. Nothing goes to the intake
   * or to any subscriber; the meter learns why on its receipts topic, and the PUBLISH is
   * acknowledged so that a meter resending unacknowledged PUBLISHes on reconnect
   * ([MQTT-4.4.0-1]) does not resend this one forever ([MQTT-3.3.5-2] allows either).
   */
  async function onWrongMeter(packet: PublishPacket, meterId: string, topic: string, topicMeterId: string | undefined): Promise<null> {
    metrics.publishReceived();
    log.warn({ meterId, topic }, 'mqtt meter published outside its readings topic');
    metrics.readingRefused(ReasonCode.WRONG_METER);
    await tellMeter(meterId, wrongMeterRejection(bytesOf(packet.payload), meterId, topicMeterId, topic));
    return null;
  }

  /**
   * A request for a full receipt (docs/protocol.md §8.3.2): answered on the meter's
   * receipts topic with the full committed message, or a rejection saying why not; then
   * acknowledged. A meter gets only its own readings' receipts.
   */
  async function onReceiptRequest(packet: PublishPacket, meterId: string, forMeter: string): Promise<null> {
    const payload = bytesOf(packet.payload);
    const refuse = (code: ReasonCode, message: string, txHash = sha256(payload), seq?: bigint): Promise<void> =>
      tellMeter(meterId, { status: 'rejected', txHash, code, message, ...(seq !== undefined ? { seq } : {}) });
    if (forMeter !== meterId) {
      log.warn({ meterId, forMeter }, 'mqtt meter asked for another meter\'s receipt');
      await refuse(ReasonCode.RECEIPT_NOT_AUTHORIZED, `meter ${meterId} may ask only for its own receipts, on ${receiptRequestTopicOf(meterId)}`);
      return null;
    }
    if (!requestLimiter.take(meterId, cfg.now())) {
      await refuse(ReasonCode.RATE_LIMITED, 'more than 10 receipt requests at once or 1 a second on average: ask again later');
      return null;
    }
    let q;
    try {
      q = decodeReceiptRequest(payload);
    } catch (e) {
      await refuse(ReasonCode.RECEIPT_REQUEST_MALFORMED, e instanceof ProtocolError ? e.message.replace(/^E_[A-Z_]+: /, '') : 'receipt request does not decode');
      return null;
    }
    try {
      const lookup = cfg.receipts;
      if ('seq' in q) {
        const r = lookup ? await lookup.bySeq(meterId, q.seq) : undefined;
        if (!r) await refuse(ReasonCode.RECEIPT_NOT_FOUND, `no committed reading ${q.seq} of meter ${meterId}`, undefined, q.seq);
        else await tellMeter(meterId, { status: 'committed', ...compactReceiptOf(r, q.seq), receipt: r });
        return null;
      }
      const r = lookup ? await lookup.byTxHash(q.txHash) : undefined;
      if (!r) {
        await refuse(ReasonCode.RECEIPT_NOT_FOUND, 'no committed transaction with this hash', q.txHash);
        return null;
      }
      const tx = decodeAnyTx(r.tx, Infinity);
      if (!isAnyReadingTx(tx) || tx.body.meterId !== meterId) {
        log.warn({ meterId }, 'mqtt meter asked for the receipt of a transaction not its own');
        await refuse(ReasonCode.RECEIPT_NOT_AUTHORIZED, `the transaction is not a reading of meter ${meterId}`, q.txHash);
        return null;
      }
      await tellMeter(meterId, { status: 'committed', ...compactReceiptOf(r, tx.body.seq, q.txHash), receipt: r });
    } catch (err) {
      log.error({ err, meterId }, 'mqtt could not look up a receipt');
      await refuse(ReasonCode.BUSY, 'the gateway could not read its store: ask again later');
    }
    return null;
  }

  aedes.authorizeSubscribe = (client, sub, cb) => {
    // persistence.ts answers a stored session without subscriptions with this placeholder.
    if (sub.topic === SESSION_PLACEHOLDER) return cb(null, null);
    const session = sessions.get(client);
    if (session && maySubscribe(session.principal, sub.topic)) return cb(null, sub);
    log.info({ clientId: client.id, filter: sub.topic }, 'mqtt subscription refused');
    cb(null, null); // [MQTT-3.8.4-5] SUBACK has a return code per filter, 0x80 for this one; the connection stays
  };

  // Every delivery is checked: broad filters are granted, meters' topics never delivered.
  aedes.authorizeForward = (client, packet: AedesPublishPacket) => {
    const session = sessions.get(client);
    if (!session || !mayReceive(session.principal, packet.topic)) return null;
    // Counted here, at hand-over to the meter's connection: aedes' 'ack' event does not
    // carry the topic for clean sessions, so PUBACKs of receipts cannot be told apart.
    if (session.principal.kind === 'meter') metrics.receiptDelivered();
    if (packet.qos === 0) return packet;
    // aedes lowers the QoS only for a subscription named exactly like the topic.
    const qos = deliveryQos(grantedOf(client), packet.topic, packet.qos) as typeof packet.qos;
    return qos === packet.qos ? packet : { ...packet, qos };
  };

  aedes.on('client', () => metrics.clientsConnected(aedes.connectedClients));
  aedes.on('clientDisconnect', () => metrics.clientsConnected(aedes.connectedClients));
  aedes.on('connackSent', (packet) => {
    const reason = packet.returnCode ? REFUSALS[packet.returnCode] : undefined;
    if (reason) metrics.connectRefused(reason);
  });
  aedes.on('clientError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'mqtt client error'));
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'mqtt connection error'));
  (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ err }, 'mqtt broker error'));

  return {
    get closing() {
      return closing;
    },
    async quiesce(timeoutMs) {
      closing = true;
      if (underway === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => (drained = r)),
        new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
      ]);
      clearTimeout(timer);
      if (underway > 0) log.warn({ underway }, 'mqtt broker closing: readings still under way are not acknowledged');
    },
    accept: (conn, info) => origins.set(conn, info),
    expireSessions() {
      for (const clientId of cfg.sessions.expire(cfg.now())) {
        log.debug({ clientId }, 'mqtt session expired');
        store.wipe(clientId).catch((err: unknown) => log.error({ err, clientId }, 'mqtt could not wipe a session'));
      }
    },
  };
}
