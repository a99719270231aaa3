/**
 * GET /api/v1/events?meter=ID: a meter's new receipts as server-sent events (WHATWG HTML
 * §9.2), pushed when the block is stored (the intake's onCommitted, as MQTT receipts are).
 *
 * Each event's id is the reading's seq, so a reconnect with Last-Event-ID (or `after=SEQ`
 * on a first connect) resumes from the store: nothing committed in between is missed,
 * across gateway restarts too. A replay is bounded (MAX_REPLAY); beyond it the stream
 * sends one `refetch` event instead and goes on live: the client reloads over the API.
 */
import type { ServerResponse } from 'node:http';
import { type CommittedReading, encodeReceipt, toHex } from '../../../protocols/index.js';
import type { Receipt } from '../../../protocols/index.js';
import { requireMeterReader } from '../auth.js';
import { HttpError } from '../errors.js';
import { meterIdParam, seqParam } from '../params.js';
import type { HttpContext, Route } from '../router.js';

/** Receipts replayed on (re)connect at most; more missed means `refetch`. */
export const MAX_REPLAY = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** A client this far behind (bytes queued in the socket) is dropped; it resumes on reconnect. */
export const MAX_QUEUED_BYTES = 1 << 20;
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

function stream(ctx: HttpContext, meterId: string, after: bigint | undefined) {
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
    const live = (c: CommittedReading): void => {
      if (c.meterId !== meterId) return;
      if (pending) {
        if (pending.length >= MAX_REPLAY) res.destroy(); // the replay fell too far behind: reconnect
        else pending.push(c);
        return;
      }
      if (c.seq <= sent) return;
      sent = c.seq;
      write(receiptFrame(c.meterId, c.seq, c.txHash, c.receipt));
    };
    // Subscribe before reading the store, so nothing falls between replay and live.
    const detach = ctx.node.intake.onCommitted(live);
    const beat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    beat.unref();
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
    };
  };
}

export const eventRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/events',
    handler: async (req, ctx) => {
      const meterId = meterIdParam(req.query.get('meter') ?? undefined, 'meter');
      // One meter per stream, so an owner's stream carries only its own meter's receipts.
      requireMeterReader(req, ctx, meterId);
      if (!ctx.node.getMeter(meterId)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${meterId}"`);
      // EventSource sends Last-Event-ID on reconnect (WHATWG HTML §9.2.4); `after` is for the first connect.
      const resume = req.headers['last-event-id'];
      const after = typeof resume === 'string' && resume !== ''
        ? seqParam('Last-Event-ID', resume, { min: 0n })
        : req.query.has('after') ? seqParam('after', req.query.get('after'), { min: 0n }) : undefined;
      return {
        status: 200, contentType: 'text/event-stream; charset=utf-8',
        headers: { 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
        stream: stream(ctx, meterId, after),
      };
    },
  },
];
