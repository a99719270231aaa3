/**
 * Tariffs, agreements and bills (docs/http-api.md §Billing). Tariffs are public: anyone
 * may recompute a bill, and a price list is no one's personal data. A meter's agreement
 * and bills are its owner's (requireMeterReader); one bill is its paying account's
 * (requireAccount on the account the bill names: a meter that moved on leaves its old
 * bills with the old owner).
 */
import {
  type AgreementRecord, type BillRecord, type DisputeRecord, PERIOD_LABEL_PATTERN, type PaymentRecord, StateKind, TARIFF_ID_PATTERN,
  type TariffRecord, type TariffVersionRecord, billId, billToJson, decodeTariff, tariffToJson,
} from '../../../protocols/index.js';
import { requireAccount, requireMeterReader } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import { meterIdParam } from '../params.js';
import type { Route } from '../router.js';
import { agreementView, billStateView, disputeView, paymentView } from '../ledger-views.js';

function tariffParam(raw: string | undefined): string {
  if (raw === undefined || !TARIFF_ID_PATTERN.test(raw)) throw badParam('name', 'must be a tariff name ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
  return raw;
}

function periodParam(raw: string | undefined): string {
  if (raw === undefined || !PERIOD_LABEL_PATTERN.test(raw)) throw badParam('period', 'must be "YYYY-MM" or "cycle-N"');
  return raw;
}

export const billingRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/tariffs',
    handler: async (_req, ctx) => {
      const tariffs = ctx.node.recordIds(StateKind.Tariff).map((name) => {
        const t = ctx.node.record(StateKind.Tariff, name) as TariffRecord;
        return { name, biller: t.biller, versions: t.versions.map((v) => ({ id: v.id, effectiveFrom: v.effectiveFrom })) };
      });
      return { status: 200, json: { tariffs } };
    },
  },
  {
    method: 'GET', path: '/api/v1/tariffs/:name',
    // Every version of the tariff, content included, oldest first.
    handler: async (req, ctx) => {
      const name = tariffParam(req.params.name);
      const t = ctx.node.record(StateKind.Tariff, name) as TariffRecord | undefined;
      if (!t) throw new HttpError('E_TARIFF_NOT_FOUND', `no tariff "${name}"`);
      const versions = t.versions.map((v) => {
        const rec = ctx.node.record(StateKind.TariffVersion, v.id) as TariffVersionRecord;
        return { id: v.id, effectiveFrom: v.effectiveFrom, tariff: tariffToJson(decodeTariff(rec.bytes)) };
      });
      return { status: 200, json: { name, biller: t.biller, versions } };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id/agreement',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      requireMeterReader(req, ctx, id);
      if (!ctx.node.getMeter(id)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      const a = ctx.node.record(StateKind.Agreement, id) as AgreementRecord | undefined;
      return { status: 200, json: a ? agreementView(id, a) : { meterId: id, billedUntil: 0, entries: [] } };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id/bills',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      const p = requireMeterReader(req, ctx, id);
      if (!ctx.node.getMeter(id)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      const bills = ctx.node.recordIds(StateKind.Bill, `${id}/`).flatMap((bid) => {
        const period = bid.slice(id.length + 1);
        const b = ctx.node.record(StateKind.Bill, bid) as BillRecord;
        // The meter's current owner sees the bills its account pays, not a former owner's.
        if (p.role === 'owner' && b.account !== p.account) return [];
        return [billStateView(id, period, b, ctx.node.record(StateKind.Payment, bid) as PaymentRecord | undefined)];
      });
      return { status: 200, json: { meterId: id, bills } };
    },
  },
  {
    method: 'GET', path: '/api/v1/bills/:meter/:period',
    // The bill with its line items (from its committed transaction), its payment and dispute.
    handler: async (req, ctx) => {
      const meterId = meterIdParam(req.params.meter, 'meter');
      const period = periodParam(req.params.period);
      const id = billId(meterId, period);
      const b = ctx.node.record(StateKind.Bill, id) as BillRecord | undefined;
      // An owner learns nothing of a bill it may not read, not even that it exists.
      if (!b) {
        requireMeterReader(req, ctx, meterId);
        throw new HttpError('E_BILL_NOT_FOUND', `no committed bill of meter "${meterId}" for ${period}`);
      }
      requireAccount(req, ctx, b.account);
      const tx = await ctx.node.committedBill(meterId, period);
      const payment = ctx.node.record(StateKind.Payment, id) as PaymentRecord | undefined;
      const dispute = ctx.node.record(StateKind.Dispute, id) as DisputeRecord | undefined;
      return {
        status: 200,
        json: {
          ...billStateView(meterId, period, b, payment),
          txHash: tx?.txHash ?? null, computedAtHeight: tx?.body.height ?? null,
          bill: tx ? billToJson(tx.body.bill) : null,
          payment: payment ? paymentView(payment) : null,
          dispute: dispute ? disputeView(dispute) : null,
        },
      };
    },
  },
];
