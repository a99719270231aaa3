/**
 * GET /api/v1/accounts/:id/payments: the account's money with the receipts that prove it
 * (docs/http-api.md §Billing): its balance, its deposits, withdrawals and the payments of
 * the bills it pays, each as the receipt's CBOR for the client to verify, and the
 * payments refused to its bills' automatic payment, with their codes. The owner's session
 * or the operator token (requireAccount).
 */
import {
  type AccountRecord, type BillRecord, METER_ID_PATTERN, StateKind, TX_TYPE_NAMES, big, decodeAnyTx, encodeReceipt, toHex,
} from '../../../protocols/index.js';
import { requireAccount } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import type { Route } from '../router.js';

export const accountMoneyRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/accounts/:id/payments',
    handler: async (req, ctx) => {
      const id = req.params.id;
      if (id === undefined || !METER_ID_PATTERN.test(id)) throw badParam('id', 'must be an account id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
      requireAccount(req, ctx, id);
      const rec = ctx.node.record(StateKind.Account, id) as AccountRecord | undefined;
      if (!rec) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${id}"`);
      const receipts = (await ctx.node.accountMoneyReceipts?.(id)) ?? [];
      const transactions = receipts.map((r) => {
        const type = decodeAnyTx(r.tx, Infinity).body.type;
        return { type, typeName: TX_TYPE_NAMES[type] ?? String(type), height: r.header.height, index: r.index, receipt: toHex(encodeReceipt(r)) };
      });
      const refused = ctx.node.recordIds(StateKind.Bill).flatMap((bid) => {
        const b = ctx.node.record(StateKind.Bill, bid) as BillRecord;
        return b.account === id && b.autopayRefused !== undefined ? [{ bill: bid, code: b.autopayRefused, height: b.height }] : [];
      });
      return { status: 200, json: { account: id, balance: big(rec.balance).toString(), transactions, refused } };
    },
  },
];
