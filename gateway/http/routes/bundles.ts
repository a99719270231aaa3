/**
 * GET /api/v1/bills/:meterId/:period/bundle: a committed bill with the receipts it rests
 * on (docs/billing.md §22), for `meterledger bill verify` and the portal. A bill is its
 * paying account's data: the operator, or a session of the account the bill names (as
 * GET /api/v1/bills/:meterId/:period).
 */
import { type BillRecord, PERIOD_LABEL_PATTERN, StateKind, billBundleToJson, billId } from '../../../protocols/index.js';
import { requireAccount, requireMeterReader } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import { meterIdParam } from '../params.js';
import type { Route } from '../router.js';

export const bundleRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/bills/:meterId/:period/bundle',
    handler: async (req, ctx) => {
      const meterId = meterIdParam(req.params.meterId, 'meterId');
      const period = req.params.period ?? '';
      if (!PERIOD_LABEL_PATTERN.test(period)) throw badParam('period', 'must be "YYYY-MM" or "cycle-N"');
      // Who may read it, from the bill's record; an owner learns nothing of a bill it may not read.
      const record = ctx.node.record(StateKind.Bill, billId(meterId, period)) as BillRecord | undefined;
      if (record) requireAccount(req, ctx, record.account);
      else requireMeterReader(req, ctx, meterId);
      const b = record ? await ctx.node.getBillBundle(meterId, period) : undefined;
      if (!b) throw new HttpError('E_BILL_NOT_FOUND', `meter "${meterId}" has no committed bill for ${period}`);
      return { status: 200, json: billBundleToJson(b) };
    },
  },
];
