/**
 * Accounts (docs/http-api.md §Billing): an account's balance, key and meters, its
 * mandates and its bills. Personal data: the owner's session or the operator token
 * (requireAccount).
 */
import {
  type AccountRecord, type BillRecord, METER_ID_PATTERN, type MandateRecord, type PaymentRecord, StateKind, billId,
} from '../../../protocols/index.js';
import { requireAccount } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import type { HttpContext, HttpRequest, Route } from '../router.js';
import { accountView, billStateView, mandateView } from '../ledger-views.js';

function accountParam(raw: string | undefined): string {
  if (raw === undefined || !METER_ID_PATTERN.test(raw)) throw badParam('id', 'must be an account id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
  return raw;
}

/** The account of the path, once the caller may read it (401/403 before 404: no probing). */
function account(req: HttpRequest, ctx: HttpContext): { id: string; rec: AccountRecord } {
  const id = accountParam(req.params.id);
  requireAccount(req, ctx, id);
  const rec = ctx.node.record(StateKind.Account, id) as AccountRecord | undefined;
  if (!rec) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${id}"`);
  return { id, rec };
}

export const accountRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/accounts/:id',
    handler: async (req, ctx) => {
      const { id, rec } = account(req, ctx);
      const meters = ctx.node.listMeters().filter((m) => m.owner === id).map((m) => m.meterId);
      return { status: 200, json: accountView(id, rec, meters) };
    },
  },
  {
    method: 'GET', path: '/api/v1/accounts/:id/mandates',
    handler: async (req, ctx) => {
      const { id } = account(req, ctx);
      const mandates = ctx.node.recordIds(StateKind.Mandate, `${id}/`).map((mid) =>
        mandateView(id, mid.slice(id.length + 1), ctx.node.record(StateKind.Mandate, mid) as MandateRecord));
      return { status: 200, json: { account: id, mandates } };
    },
  },
  {
    method: 'GET', path: '/api/v1/accounts/:id/bills',
    // Bills the account pays and bills paid to it (a payee is an account too).
    handler: async (req, ctx) => {
      const { id } = account(req, ctx);
      const bills = [];
      for (const bid of ctx.node.recordIds(StateKind.Bill)) {
        const b = ctx.node.record(StateKind.Bill, bid) as BillRecord;
        if (b.account !== id && b.payee !== id) continue;
        const cut = bid.lastIndexOf('/');
        const meterId = bid.slice(0, cut);
        const period = bid.slice(cut + 1);
        bills.push(billStateView(meterId, period, b, ctx.node.record(StateKind.Payment, billId(meterId, period)) as PaymentRecord | undefined));
      }
      return { status: 200, json: { account: id, bills } };
    },
  },
];
