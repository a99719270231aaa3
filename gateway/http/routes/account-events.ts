/**
 * GET /api/v1/accounts/:id/events: an account's money as server-sent events (WHATWG HTML
 * §9.2), pushed when a block is applied: an `account` event for each block that wrote a
 * bill, a payment or the balance of the account (docs/http-api.md §Account events). The
 * event says what changed, not what it is: the client reads it over the account routes
 * and checks it there (the portal recomputes each bill from its bundle).
 *
 * Each event's id is the block height. A reconnect with Last-Event-ID (or `after=H` on a
 * first connect) below the head gets one `refetch` event at once: blocks in between may
 * have changed the account, and the client reloads its bills and payments over the API,
 * so nothing committed while it was away is missed.
 */
import type { ServerResponse } from 'node:http';
import { type AccountRecord, type BillRecord, type DisputeRecord, METER_ID_PATTERN, type PaymentRecord, type StateChange, StateKind } from '../../../protocols/index.js';
import { requireAccount } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import type { HttpContext, Route } from '../router.js';
import { HEARTBEAT_MS, MAX_QUEUED_BYTES } from './events.js';

export interface AccountEvent {
  readonly account: string;
  readonly height: number;
  /** Ids ("meter/period") of the account's bills whose bill or dispute record the block wrote (issued, credited, disputed, dispute settled). */
  readonly bills: readonly string[];
  /** Ids of the bills whose payment the block wrote. */
  readonly payments: readonly string[];
  /** The block changed the account record (a deposit, a withdrawal, a payment, a key). */
  readonly balance: boolean;
}

/** What block `height` changed of `account`, or undefined when nothing. */
export function accountEvent(account: string, height: number, changes: readonly StateChange[]): AccountEvent | undefined {
  const bills = new Set<string>();
  const payments = new Set<string>();
  let balance = false;
  for (const c of changes) {
    if (c.kind === StateKind.Account && c.id === account) balance = true;
    else if ((c.kind === StateKind.Bill || c.kind === StateKind.Dispute) && (c.value as BillRecord | DisputeRecord | undefined)?.account === account) bills.add(c.id);
    else if (c.kind === StateKind.Payment && (c.value as PaymentRecord | undefined)?.account === account) payments.add(c.id);
  }
  if (!balance && bills.size === 0 && payments.size === 0) return undefined;
  return { account, height, bills: [...bills].sort(), payments: [...payments].sort(), balance };
}

const frame = (event: string, id: number, data: unknown): string => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

function stream(ctx: HttpContext, account: string, after: number | undefined) {
  return (res: ServerResponse): (() => void) => {
    let ended = false;
    const write = (chunk: string): void => {
      if (ended) return;
      res.write(chunk);
      if (res.writableLength > MAX_QUEUED_BYTES) res.destroy();
    };
    // Subscribe before reading the head, so no block falls between the two.
    const detach = ctx.node.onBlock?.((b) => {
      const e = accountEvent(account, b.height, b.changes);
      if (e) write(frame('account', b.height, e));
    }) ?? (() => {});
    const beat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    beat.unref();
    write('retry: 1000\n\n');
    const head = ctx.node.status().height;
    if (after !== undefined && after < head) write(frame('refetch', head, { account, fromHeight: after + 1, height: head }));
    return () => {
      ended = true;
      detach();
      clearInterval(beat);
    };
  };
}

function heightParam(name: string, raw: string | null | undefined): number {
  if (raw === null || raw === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw badParam(name, 'must be a block height (a non-negative integer)');
  return Number(raw);
}

export const accountEventRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/accounts/:id/events',
    handler: async (req, ctx) => {
      const id = req.params.id;
      if (id === undefined || !METER_ID_PATTERN.test(id)) throw badParam('id', 'must be an account id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
      // One account per stream: an owner's stream carries only its own account's events.
      requireAccount(req, ctx, id);
      if (!(ctx.node.record(StateKind.Account, id) as AccountRecord | undefined)) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${id}"`);
      const resume = req.headers['last-event-id'];
      const after = typeof resume === 'string' && resume !== '' ? heightParam('Last-Event-ID', resume)
        : req.query.has('after') ? heightParam('after', req.query.get('after')) : undefined;
      return {
        status: 200, contentType: 'text/event-stream; charset=utf-8',
        headers: { 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
        stream: stream(ctx, id, after),
      };
    },
  },
];
