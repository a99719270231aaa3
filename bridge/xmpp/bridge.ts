/**
 * The XMPP bridge: logs in to the site's XMPP server as the gateway's account, takes
 * `<reading/>` messages from meters, hands their bytes to the intake port (the only way
 * into the ledger), and answers with `<ack/>` then `<receipt/>` (docs/xmpp.md).
 *
 * Lifecycle: `start()` resolves once online and rejects, having cleaned up, if that first
 * attempt fails (a misconfigured gateway should fail at boot, loudly). Once online, a lost
 * connection is retried forever with jittered exponential backoff; state() says where we are.
 */
import { xml, type Element } from '@xmpp/xml';
import type { Client } from '@xmpp/client-core';
import type { IqCaller } from '@xmpp/iq/caller.js';
import { ReasonCode } from '../../protocols/errors.js';
import { sha256 } from '../../protocols/hash.js';
import type { CommittedReading, DroppedReading, IntakePort, SubmitResult } from '../../protocols/intake.js';
import { CodedError } from '../../protocols/errors.js';
import { decodeTx, isReadingTx } from '../../protocols/tx.js';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { TlsRequiredError, type XmppConnectionOptions, createXmppClient } from './client.js';
import { type XmppLogger, silentXmppLogger } from './logger.js';
import { type XmppMetrics, type XmppState, noopXmppMetrics } from './metrics.js';
import { PendingReceipts } from './pending.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, ackMessage, classifyStanza, receiptMessage } from './stanzas.js';

export interface XmppBridgeOptions extends XmppConnectionOptions {
  readonly intake: IntakePort;
  /** Largest reading, in base64-decoded bytes (default 4096). */
  readonly maxPayloadBytes?: number;
  /** Readings handed to the intake and not yet answered; beyond this one is answered E_GATEWAY_BUSY (default 4096). */
  readonly maxInFlight?: number;
  readonly logger?: XmppLogger;
  readonly metrics?: XmppMetrics;
  /** Reconnect backoff, default 1000..30000 ms, jittered. */
  readonly reconnect?: BackoffOptions;
}

export type XmppBridgeErrorCode = 'E_XMPP_AUTH' | 'E_XMPP_CONNECT' | 'E_XMPP_TLS_REQUIRED';

export class XmppBridgeError extends CodedError<XmppBridgeErrorCode> {
  override readonly name = 'XmppBridgeError';
}

/** One login attempt may take this long (connect, STARTTLS, SASL, bind). */
const ATTEMPT_TIMEOUT_MS = 15_000;
/** XEP-0199 ping of the server while online, to notice a dead TCP connection. */
const PING_INTERVAL_MS = 30_000;
const PING_TIMEOUT_MS = 10_000;
/** Replies kept while offline, sent when back online; the oldest are dropped first. */
const MAX_OUTBOX = 10_000;
/** Readings handed to the intake and not yet answered, by default; beyond this we answer BUSY. */
const MAX_IN_FLIGHT = 4096;
/** close() waits this long for answers to readings under way. */
const CLOSE_DRAIN_MS = 5000;
const NS_PING = 'urn:xmpp:ping';

export class XmppBridge {
  private readonly entity: Client;
  private readonly iqCaller: IqCaller;
  private readonly log: XmppLogger;
  private readonly metrics: XmppMetrics;
  private readonly maxPayloadBytes: number;
  private readonly maxInFlight: number;
  private readonly pending = new PendingReceipts();
  private readonly outbox: { el: Element; receipt: boolean }[] = [];
  private readonly unsubscribe: () => void;
  private current: XmppState = 'offline';
  private closing = false;
  private attempting = false;
  /** We are closing a connection the server closed (see onStatus). */
  private dropping = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private inflight = 0;
  private drained: (() => void) | undefined;

  /** Connect and log in; resolves when online, rejects (and cleans up) if the first attempt fails. */
  static async start(opts: XmppBridgeOptions): Promise<XmppBridge> {
    const b = new XmppBridge(opts);
    try {
      await b.attempt();
    } catch (e) {
      await b.close();
      const auth = (e as Error).name === 'SASLError';
      const plaintext = e instanceof TlsRequiredError;
      throw new XmppBridgeError(auth ? 'E_XMPP_AUTH' : plaintext ? 'E_XMPP_TLS_REQUIRED' : 'E_XMPP_CONNECT',
        `${auth ? 'login refused' : 'could not log in'} to ${opts.service} as ${opts.username}@${opts.domain}: ${(e as Error).message || (e as Error).name}`, { cause: e });
    }
    return b;
  }

  private constructor(private readonly opts: XmppBridgeOptions) {
    this.log = opts.logger ?? silentXmppLogger;
    this.metrics = opts.metrics ?? noopXmppMetrics;
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
    const c = createXmppClient(opts);
    this.entity = c.entity;
    this.iqCaller = c.iqCaller;
    // An error while logging in fails the attempt, which start() or scheduleReconnect reports: once.
    this.entity.on('error', (err: Error) => {
      if (!this.attempting) this.log.warn({ err: err.message, name: err.name }, 'xmpp error');
    });
    this.entity.on('status', (s: string) => this.onStatus(s));
    this.entity.on('online', () => this.onOnline());
    this.entity.on('stanza', (s: Element) => this.onStanza(s));
    const offCommitted = opts.intake.onCommitted((c) => this.onCommitted(c));
    const offDropped = opts.intake.onDropped((d) => this.onDropped(d));
    this.unsubscribe = () => {
      offCommitted();
      offDropped();
    };
    this.sweeper = setInterval(() => this.pending.sweep(), 60_000);
    this.sweeper.unref();
  }

  state(): XmppState {
    return this.current;
  }

  /** Leave: answer readings under way (briefly), send unavailable presence, close the stream. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    clearInterval(this.sweeper);
    this.unsubscribe();
    if (this.inflight > 0) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, CLOSE_DRAIN_MS);
        this.drained = () => { clearTimeout(t); r(); };
      });
    }
    if (this.entity.status === 'online') await this.entity.send(xml('presence', { type: 'unavailable' })).catch(() => undefined);
    if (this.entity.status !== 'offline') {
      await Promise.race([
        this.entity.stop().catch(() => undefined),
        new Promise((r) => setTimeout(r, 3000).unref()),
      ]);
    }
    this.entity.removeAllListeners('stanza');
    this.setState('offline');
  }

  // ---- connection ----------------------------------------------------------------

  private setState(s: XmppState): void {
    if (s === this.current) return;
    this.current = s;
    this.metrics.state(s);
    this.log.info({ state: s }, `xmpp ${s}`);
  }

  /** One login: connect, open, negotiate (STARTTLS, SASL, bind) until 'online'. */
  private async attempt(): Promise<void> {
    this.attempting = true;
    this.setState('connecting');
    const e = this.entity;
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          clearTimeout(t);
          e.off('online', onOnline);
          e.off('error', onError);
          e.off('status', onStatus);
          if (err) reject(err);
          else resolve();
        };
        const onOnline = (): void => done();
        const onError = (err: Error): void => done(err);
        const onStatus = (s: string): void => {
          if (s === 'disconnect') done(new Error('connection closed during login'));
        };
        const t = setTimeout(() => done(new Error(`not online after ${ATTEMPT_TIMEOUT_MS} ms`)), ATTEMPT_TIMEOUT_MS);
        e.on('online', onOnline);
        e.on('error', onError);
        e.on('status', onStatus);
        e.connect(this.opts.service).then(() => e.open({ domain: this.opts.domain })).catch(onError);
      });
    } catch (err) {
      if (e.status !== 'disconnect' && e.status !== 'offline') await e.disconnect().catch(() => undefined);
      throw err;
    } finally {
      this.attempting = false;
    }
  }

  private onStatus(s: string): void {
    this.log.debug({ status: s }, 'xmpp connection status');
    if (this.closing || this.attempting) return;
    // RFC 6120 §4.4: the server closed its stream; close ours and the socket, once
    // (a failed close reports 'close' again, which must not start another).
    if (s === 'close') {
      this.setState('offline');
      if (this.dropping) return;
      this.dropping = true;
      this.entity.disconnect().catch(() => undefined);
    } else if (s === 'disconnect') {
      this.dropping = false;
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closing || this.attempting || this.timer) return;
    clearInterval(this.pinger);
    this.setState('offline');
    const delay = backoffDelay(this.failures++, this.opts.reconnect);
    this.log.info({ delayMs: delay, attempt: this.failures }, 'xmpp reconnecting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closing) return;
      this.attempt().catch((err: Error) => {
        this.log.warn({ err: err.message }, 'xmpp reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }

  private onOnline(): void {
    if (this.closing) return;
    this.failures = 0;
    this.dropping = false;
    this.setState('online');
    // RFC 6121 §4.2: initial presence, so that messages to our bare JID reach us.
    this.entity.send(xml('presence')).catch(() => undefined);
    this.flush();
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  private ping(): void {
    if (this.entity.status !== 'online') return;
    const iq = xml('iq', { type: 'get', to: this.opts.domain }, xml('ping', { xmlns: NS_PING }));
    this.iqCaller.request(iq, PING_TIMEOUT_MS).catch((err: Error) => {
      if (err.name === 'StanzaError') return; // an answer, even an error, proves the link
      this.log.warn({ err: err.message }, 'xmpp server did not answer a ping; reconnecting');
      this.entity.disconnect().catch(() => undefined);
    });
  }

  // ---- replies ----------------------------------------------------------------

  private reply(el: Element, receipt = false): void {
    if (this.current !== 'online' || this.entity.status !== 'online') {
      this.enqueue(el, receipt);
      return;
    }
    this.entity.send(el).then(
      () => { if (receipt) this.metrics.receiptSent(); },
      () => this.enqueue(el, receipt),
    );
  }

  private enqueue(el: Element, receipt: boolean): void {
    if (this.closing) return;
    if (this.outbox.length >= MAX_OUTBOX) {
      this.outbox.shift();
      this.log.warn({ max: MAX_OUTBOX }, 'xmpp outbox full; dropped the oldest reply');
    }
    this.outbox.push({ el, receipt });
  }

  private flush(): void {
    for (const { el, receipt } of this.outbox.splice(0)) this.reply(el, receipt);
  }

  // ---- readings ---------------------------------------------------------------

  private onStanza(stanza: Element): void {
    if (this.closing) return;
    const c = classifyStanza(stanza, this.maxPayloadBytes);
    if (c.kind === 'ignore') {
      this.log.debug({ from: stanza.attrs.from, why: c.why }, 'xmpp stanza ignored');
      return;
    }
    this.metrics.stanzaReceived();
    if (c.kind === 'refuse') {
      this.metrics.stanzaRefused(c.code);
      this.log.info({ from: stanza.attrs.from, id: stanza.attrs.id, code: c.code, detail: c.reason }, 'xmpp reading refused');
      this.reply(c.reply);
      return;
    }
    void this.handleReading(c.from, c.bareJid, c.id, c.meterId, c.bytes);
  }

  private async handleReading(from: string, bareJid: string, id: string, meterId: string, bytes: Uint8Array): Promise<void> {
    if (this.inflight >= this.maxInFlight) {
      const busy: SubmitResult = { status: 'rejected', txHash: sha256(bytes), code: ReasonCode.BUSY, message: `${this.maxInFlight} readings under way; retry later` };
      this.metrics.stanzaRefused(ReasonCode.BUSY);
      this.log.info({ from, id, meterId, code: ReasonCode.BUSY }, 'xmpp reading refused');
      this.reply(ackMessage(from, id, busy));
      return;
    }
    this.inflight++;
    try {
      // Learn (meter, seq) first, so a commit that races the answer still finds its meter.
      const seq = readingSeq(bytes, meterId);
      const mine = seq !== undefined ? this.pending.add(meterId, seq, from, id) : undefined;
      let r: SubmitResult;
      try {
        r = await this.opts.intake.submit(bytes, { meterId, transport: 'xmpp', jid: bareJid });
      } catch (e) {
        // The port promises never to reject; if it does, nothing is durable.
        r = { status: 'rejected', txHash: sha256(bytes), code: ReasonCode.BUSY, message: `intake failed: ${(e as Error).message}` };
        this.metrics.stanzaRefused(ReasonCode.BUSY);
      }
      if (r.status === 'rejected') {
        if (mine && seq !== undefined) this.pending.drop(meterId, seq, mine);
      } else if (!mine && seq === r.seq) {
        // Only one submission of (meter, seq) is ever accepted: this one owns the receipt.
        this.pending.set(meterId, seq, from, id);
      }
      this.log.debug({ meterId, id, status: r.status, code: r.status === 'rejected' ? r.code : undefined }, 'xmpp reading answered');
      this.reply(ackMessage(from, id, r));
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.drained?.();
    }
  }

  private onCommitted(c: CommittedReading): void {
    const p = this.pending.take(c.meterId, c.seq);
    if (p) this.reply(receiptMessage(p.jid, p.id, c), true);
  }

  /** An accepted reading a block made invalid: whoever waits for its receipt gets a rejection instead (docs/xmpp.md). */
  private onDropped(d: DroppedReading): void {
    const p = this.pending.take(d.meterId, d.seq);
    if (p) this.reply(ackMessage(p.jid, p.id, { status: 'rejected', txHash: d.txHash, code: d.code, message: d.message, seq: d.seq }));
  }
}

/** The seq of a reading of `meterId` in `bytes`, if they decode as one (the intake judges the rest). */
function readingSeq(bytes: Uint8Array, meterId: string): bigint | undefined {
  try {
    const tx = decodeTx(bytes, bytes.length);
    return isReadingTx(tx) && tx.body.meterId === meterId ? tx.body.seq : undefined;
  } catch {
    return undefined;
  }
}
