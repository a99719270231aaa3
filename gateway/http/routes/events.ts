/**
 * GET /api/v1/events?meter=ID: a meter's new receipts as server-sent events (WHATWG HTML
 * §9.2), pushed when the block is stored (the intake's onCommitted, as MQTT receipts are).
 *
 * Each event's id is the reading's seq, so a reconnect with Last-Event-ID (or `after=SEQ`
 * on a first connect) resumes from the store: nothing committed in between is missed,
 * across gateway restarts too. A replay is bounded (MAX_REPLAY); beyond it the stream
 * sends one `refetch` event instead and goes on live: the client reloads over the API.
 *
 * Besides: `silent` (no id) once the meter's newest reading is older than its silence
 * threshold (../silence.ts), again after each new reading and silence; `bill` and
 * `payment` (no id, not replayed: the bills routes hold them) as the meter's bills topic
 * carries them, without the transaction bytes.
 *
 * An owner's stream lives no longer than its session: when the session expires, or ends
 * (the account key rotated, sign-out), the stream sends one `session-ended` event with
 * the code and closes; the client asks to sign in again instead of reconnecting.
 */
import type { ServerResponse } from 'node:http';
import { type BillsTopicMessage, type CommittedReading, encodeReceipt, toHex } from '../../../protocols/index.js';
import type { Receipt } from '../../../protocols/index.js';
import { authenticate, requireMeterReader, sessionExpiry } from '../auth.js';
import { HttpError } from '../errors.js';
import { meterIdParam, seqParam } from '../params.js';
import { SILENCE_SAMPLE, silenceThreshold } from '../silence.js';
import type { HttpContext, HttpRequest, Route } from '../router.js';

/** Receipts replayed on (re)connect at most; more missed means `refetch`. */
export const MAX_REPLAY = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** A client this far behind (bytes queued in the socket) is dropped; it resumes on reconnect. */
export const MAX_QUEUED_BYTES = 1 << 20;
/** An owner's session (expiry, key rotation) and the meter's silence are checked this often while a stream is open. */
export const WATCH_MS = 1000;
/** EventSource's reconnect delay (ms), sent in the stream. */
const RETRY_MS = 1000;

export interface ReceiptEvent {
  readonly meterId: string;
  readonly seq: string;
  readonly height: number;
  readonly index: number;
  readonly txHash: string;
  /** Hex of the receipt's exact CBOR: the client verifies it, it does not trust this JSON. */
  readonly receipt: string;
}

const frame = (event: string, id: string | undefined, data: unknown): string =>
  `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

const receiptFrame = (meterId: string, seq: bigint, txHash: Uint8Array, r: Receipt): string => {
  const e: ReceiptEvent = { meterId, seq: seq.toString(), height: r.header.height, index: r.index, txHash: toHex(txHash), receipt: toHex(encodeReceipt(r)) };
  return frame('receipt', e.seq, e);
};

/** The code that ends an owner's stream now, or undefined while its session lives. */
function sessionEnd(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext, expires: number): string | undefined {
  if (Date.now() >= expires) return 'E_SESSION_EXPIRED';
  try {
    authenticate(req, ctx);
    return undefined;
  } catch (e) {
    return (e as HttpError).code ?? 'E_SESSION_INVALID';
  }
}

function stream(ctx: HttpContext, meterId: string, after: bigint | undefined, session?: { req: Pick<HttpRequest, 'headers'>; expires: number }) {
  return (res: ServerResponse): (() => void) => {
    let ended = false;
    /** Highest seq written; live events at or below it were replayed already. */
    let sent = after ?? 0n;
    /** Live events that arrive while the replay reads the store. */
    let pending: CommittedReading[] | undefined = after !== undefined ? [] : undefined;
    const write = (chunk: string): void => {
      if (ended) return;
      res.write(chunk);
      if (res.writableLength > MAX_QUEUED_BYTES) {
        ctx.logger.warn({ meterId, queued: res.writableLength }, 'event stream client too slow; dropped (it resumes on reconnect)');
        res.destroy();
      }
    };
    // Silence: the newest reading's time and the meter's threshold, renewed on each new reading.
    let lastSeen: { seq: bigint; time: number; thresholdMs: number | undefined } | undefined;
    let silentSent = false;
    const renew = async (): Promise<void> => {
      const top = BigInt(ctx.node.getMeter(meterId)?.lastSeq ?? '0');
      if (top === 0n) return;
      const from = top > BigInt(SILENCE_SAMPLE) ? top - BigInt(SILENCE_SAMPLE) : 1n;
      const recent = await ctx.node.readings(meterId, from, SILENCE_SAMPLE + 1);
      const last = recent.at(-1);
      if (last) lastSeen = { seq: BigInt(last.seq), time: last.time, thresholdMs: silenceThreshold(recent.map((r) => r.time), ctx.meterSilenceMs) };
    };
    const renewSoon = (): void => void renew().catch((err: unknown) => ctx.logger.warn({ err, meterId }, 'event stream: reading the meter\'s recent readings failed'));
    renewSoon();
    const live = (c: CommittedReading): void => {
      if (c.meterId !== meterId) return;
      if (pending) {
        if (pending.length >= MAX_REPLAY) res.destroy(); // the replay fell too far behind: reconnect
        else pending.push(c);
        return;
      }
      if (c.seq <= sent) return;
      sent = c.seq;
      silentSent = false;
      renewSoon();
      write(receiptFrame(c.meterId, c.seq, c.txHash, c.receipt));
    };
    // Subscribe before reading the store, so nothing falls between replay and live.
    const detach = ctx.node.intake.onCommitted(live);
    const beat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    beat.unref();
    const detachBills = ctx.onBillsMessage?.((m: BillsTopicMessage) => {
      if (m.meterId !== meterId) return;
      if (m.kind === 'bill') {
        write(frame('bill', undefined, { kind: 'bill', meterId, period: m.period, total: m.total.toString(), currency: m.currency, minorUnits: m.minorUnits, height: m.height, txHash: toHex(m.txHash), ...(m.autopay !== undefined ? { autopay: m.autopay } : {}) }));
      } else if (m.status === 'paid') {
        write(frame('payment', undefined, { kind: 'payment', meterId, status: 'paid', period: m.period, amount: m.amount.toString(), by: m.by, height: m.height, txHash: toHex(m.txHash) }));
      } else {
        write(frame('payment', undefined, { kind: 'payment', meterId, status: 'refused', ...(m.period !== undefined ? { period: m.period } : {}), code: m.code, message: m.message, txHash: toHex(m.txHash) }));
      }
    });
    const watch = setInterval(() => {
      if (lastSeen?.thresholdMs !== undefined && !silentSent && Date.now() - lastSeen.time > lastSeen.thresholdMs) {
        silentSent = true;
        write(frame('silent', undefined, {
          meterId, lastSeq: lastSeen.seq.toString(), lastSeen: lastSeen.time, thresholdMs: lastSeen.thresholdMs,
          message: `meter ${meterId} has sent no reading for more than ${Math.round(lastSeen.thresholdMs / 1000)} s`,
        }));
      }
      if (!session) return;
      const code = sessionEnd(session.req, ctx, session.expires);
      if (code === undefined) return;
      const message = code === 'E_SESSION_EXPIRED' ? 'your session expired: sign in again to keep the live feed' : 'your session ended: sign in again to keep the live feed';
      write(frame('session-ended', undefined, { code, message }));
      ended = true;
      res.end();
    }, WATCH_MS);
    watch.unref();
    write(`retry: ${RETRY_MS}\n\n`);

    if (after !== undefined) {
      void (async () => {
        const missed = await ctx.node.readings(meterId, after + 1n, MAX_REPLAY + 1);
        if (missed.length > MAX_REPLAY) {
          const latest = BigInt(ctx.node.getMeter(meterId)?.lastSeq ?? '0');
          write(frame('refetch', latest.toString(), {
            code: 'E_EVENTS_BACKLOG_EXCEEDED', fromSeq: (after + 1n).toString(), latestSeq: latest.toString(),
            message: `more than ${MAX_REPLAY} receipts since seq ${after}: reload them over /api/v1/meters/${meterId}/readings`,
          }));
          sent = latest;
        } else {
          for (const m of missed) {
            if (ended) return;
            const r = await ctx.node.getReceipt(meterId, BigInt(m.seq));
            if (!r) continue;
            sent = BigInt(m.seq);
            write(receiptFrame(meterId, sent, Buffer.from(m.txHash, 'hex'), r));
          }
        }
        const queued = pending ?? [];
        pending = undefined;
        for (const c of queued) live(c);
      })().catch((err: unknown) => {
        ctx.logger.error({ err, meterId }, 'event stream replay failed');
        res.destroy();
      });
    }
    return () => {
      ended = true;
      detach();
      clearInterval(beat);
      clearInterval(watch);
      detachBills?.();
    };
  };
}

export const eventRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/events',
    handler: async (req, ctx) => {
      const meterId = meterIdParam(req.query.get('meter') ?? undefined, 'meter');
      // One meter per stream, so an owner's stream carries only its own meter's receipts.
      const who = requireMeterReader(req, ctx, meterId);
      const expires = who.role === 'owner' ? sessionExpiry(req, ctx) : undefined;
      if (!ctx.node.getMeter(meterId)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${meterId}"`);
      // EventSource sends Last-Event-ID on reconnect (WHATWG HTML §9.2.4); `after` is for the first connect.
      const resume = req.headers['last-event-id'];
      const after = typeof resume === 'string' && resume !== ''
        ? seqParam('Last-Event-ID', resume, { min: 0n })
        : req.query.has('after') ? seqParam('after', req.query.get('after'), { min: 0n }) : undefined;
      return {
        status: 200, contentType: 'text/event-stream; charset=utf-8',
        headers: { 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
        stream: stream(ctx, meterId, after, expires !== undefined ? { req: { headers: req.headers }, expires } : undefined),
      };
    },
  },
];
