/**
 * The live feed (GET /api/v1/events, server-sent events): receipts as they commit. Read
 * with fetch and a stream reader, not EventSource, because the stream needs the tab's
 * token in the authorization header (EventSource sends no headers, and a token in the
 * URL would land in logs). After a dropped connection it reconnects with Last-Event-ID,
 * as EventSource would, so the server replays what was missed. When the owner's session
 * ends, the server sends `session-ended` and closes (a reconnect would be refused with
 * 401): the feed stops and says so, the page asks to sign in again.
 */
import { fromHex } from '../../../protocols/bytes.js';
import { authHeaders } from './api.js';

export interface LiveHandlers {
  receipt(seq: bigint, bytes: Uint8Array): void;
  /** The server could not replay everything missed: reload over the API. */
  refetch(latestSeq: bigint): void;
  state(s: 'live' | 'reconnecting'): void;
  /** The meter has sent nothing for longer than its silence threshold (once per silence). */
  silent(e: SilentEvent): void;
  /** A bill of the meter committed, or a payment of one made or refused (docs/protocol.md §8.7). */
  bills(e: BillsEvent): void;
  /** The session ended (expired, revoked): the feed stopped; sign in again to resume. */
  ended(code: string, message: string): void;
}

export interface SilentEvent {
  readonly meterId: string;
  readonly lastSeq: string;
  readonly lastSeen: number;
  readonly thresholdMs: number;
}

export interface BillsEvent {
  readonly kind: 'bill' | 'payment';
  readonly meterId: string;
  readonly period: string;
  /** A payment: 'paid' or 'refused'. */
  readonly status?: string;
  /** A bill: autopay at issue, 'paid' or the code it was refused with. */
  readonly autopay?: string;
  /** A refused payment: why. */
  readonly code?: string;
}

/** One event of a text/event-stream (WHATWG HTML §9.2): its type, data and id. */
interface StreamEvent { event: string; data: string; id?: string }

/** Feed decoded text in, get each complete event out (lines end in LF, CR LF or CR). */
export function eventParser(emit: (e: StreamEvent) => void): (text: string) => void {
  let buf = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  return (text) => {
    buf += text;
    const lines = buf.split(/\r\n|\r|\n/);
    buf = lines.pop()!;
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) emit({ event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // a comment (keep-alive)
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  };
}

/**
 * Follow one event stream with the tab's token: `state('live')` once connected, every
 * event to `handle` (its id kept for Last-Event-ID), and after a drop `state('reconnecting')`
 * and a new request 2 s later, until stopped. `refused` may end it for good on an answer
 * a retry cannot change (a dead session).
 */
function follow(url: () => string, handle: (e: StreamEvent) => void, state: (s: 'live' | 'reconnecting') => void,
  refused?: (r: Response) => Promise<boolean>): () => void {
  let lastId: string | undefined;
  let timer: number | undefined;
  let stopped = false;
  let abort: AbortController | undefined;
  const open = async (): Promise<void> => {
    abort = new AbortController();
    try {
      const r = await fetch(url(), {
        headers: { accept: 'text/event-stream', ...authHeaders(), ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) },
        cache: 'no-store', signal: abort.signal,
      });
      if (refused && (await refused(r))) {
        stopped = true;
        return;
      }
      if (!r.ok || r.body === null) throw new Error(`HTTP ${r.status}`);
      state('live');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      const feed = eventParser((e) => {
        if (e.id !== undefined) lastId = e.id;
        handle(e);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(value);
      }
    } catch {
      /* dropped, refused or stopped: retried below unless stopped */
    }
    if (stopped) return;
    state('reconnecting');
    timer = window.setTimeout(() => void open(), 2000);
  };
  void open();
  return () => {
    stopped = true;
    abort?.abort();
    if (timer !== undefined) clearTimeout(timer);
  };
}

export function openLive(meterId: string, afterSeq: bigint, on: LiveHandlers): () => void {
  let last = afterSeq;
  let ended = false;
  const handle = (e: StreamEvent): void => {
    if (ended) return;
    if (e.event === 'receipt') {
      const r = JSON.parse(e.data) as { seq: string; receipt: string };
      const seq = BigInt(r.seq);
      if (seq > last) last = seq;
      on.receipt(seq, fromHex(r.receipt, 'receipt'));
    } else if (e.event === 'silent') {
      on.silent(JSON.parse(e.data) as SilentEvent);
    } else if (e.event === 'bill' || e.event === 'payment') {
      on.bills(JSON.parse(e.data) as BillsEvent);
    } else if (e.event === 'session-ended') {
      const d = JSON.parse(e.data) as { code: string; message: string };
      ended = true;
      stop();
      on.ended(d.code, d.message);
    } else if (e.event === 'refetch') {
      last = BigInt((JSON.parse(e.data) as { latestSeq: string }).latestSeq);
      on.refetch(last);
    }
  };
  // The session died while the connection was down: retrying cannot help.
  const refused = async (r: Response): Promise<boolean> => {
    if (r.status !== 401) return false;
    const j = await r.json().catch(() => ({})) as { error?: { code?: string; message?: string }; code?: string; message?: string };
    on.ended(j.error?.code ?? j.code ?? 'E_SESSION_INVALID', 'your session ended: sign in again to keep the live feed');
    return true;
  };
  const stop = follow(() => `/api/v1/events?meter=${encodeURIComponent(meterId)}&after=${last}`, handle, (s) => on.state(s), refused);
  return stop;
}

export interface AccountLiveHandlers {
  /** A block changed the account's bills, payments or balance, or the stream missed blocks: reload. */
  change(): void;
  state(s: 'live' | 'reconnecting'): void;
}

/**
 * An account's money events (GET /api/v1/accounts/:id/events): an `account` event per
 * block that changed its bills, payments or balance; after a dropped connection it
 * reconnects with Last-Event-ID (the last block height seen) and gets `refetch` when it
 * missed blocks (whatever committed while the stream was down is reloaded then). The
 * events carry no figures: the page reloads and verifies them.
 */
export function openAccountLive(account: string, on: AccountLiveHandlers): () => void {
  return follow(() => `/api/v1/accounts/${encodeURIComponent(account)}/events`, (e) => {
    if (e.event === 'account' || e.event === 'refetch') on.change();
  }, (s) => on.state(s));
}
