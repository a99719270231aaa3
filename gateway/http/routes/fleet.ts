/**
 * GET /api/v1/fleet (admin token): the operator's read-only view of the fleet: every
 * meter with its last committed reading, the committed bills not yet paid (newest
 * UNPAID_BILLS_LIMIT, on a chain with billing), and the readings refused so far by reason.
 */
import { type BillRecord, type DisputeRecord, StateKind } from '../../../protocols/index.js';
import { requireAdmin } from '../auth.js';
import type { Route } from '../router.js';
import type { LedgerApi } from '../../../ledger-node/api.js';

/** At most this many unpaid bills in one answer: the newest by committed height. */
export const UNPAID_BILLS_LIMIT = 1000;

/** The committed bills with something due (a total above 0, as the unpaid-bills metric counts) and no payment record, newest first (height, then meter and period). */
function unpaidBills(node: LedgerApi, currency: string) {
  const all = [];
  for (const id of node.recordIds(StateKind.Bill)) {
    if (node.record(StateKind.Payment, id) !== undefined) continue;
    const b = node.record(StateKind.Bill, id) as BillRecord;
    if (BigInt(b.total) <= 0n) continue;
    const cut = id.lastIndexOf('/');
    const dispute = node.record(StateKind.Dispute, id) as DisputeRecord | undefined;
    all.push({
      meterId: id.slice(0, cut), period: id.slice(cut + 1), account: b.account, payee: b.payee,
      total: BigInt(b.total).toString(), credited: BigInt(b.credited).toString(), currency, height: b.height,
      disputed: dispute?.status === 'open',
    });
  }
  all.sort((a, b) => b.height - a.height || (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : a.period < b.period ? -1 : 1));
  return { count: all.length, bills: all.slice(0, UNPAID_BILLS_LIMIT) };
}

export const fleetRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/fleet',
    handler: async (req, ctx) => {
      requireAdmin(req.headers, ctx.adminToken);
      const s = ctx.node.status();
      const meters = [];
      for (const m of ctx.node.listMeters()) {
        const seq = BigInt(m.lastSeq);
        const last = seq > 0n ? (await ctx.node.readings(m.meterId, seq, 1))[0] : undefined;
        meters.push({
          meterId: m.meterId, alg: m.alg, revoked: m.revoked, ...(m.owner !== undefined ? { owner: m.owner } : {}),
          lastSeq: m.lastSeq, lastSeen: last?.time ?? null, lastHeight: last?.height ?? null,
        });
      }
      const rejects = (await ctx.rejectsByReason?.()) ?? {};
      const cur = ctx.node.genesis.currency;
      const unpaid = cur ? unpaidBills(ctx.node, cur.code) : undefined;
      return {
        status: 200,
        json: {
          chainId: s.chainId, height: s.height, headTime: s.headTime ?? null, pending: s.pending, meters, rejects,
          // null: the chain has no currency in genesis, so no billing.
          currency: cur ? { code: cur.code, minorUnits: cur.minorUnits } : null,
          unpaidBills: unpaid ? unpaid.bills : null, unpaidBillsCount: unpaid ? unpaid.count : null, unpaidBillsLimit: UNPAID_BILLS_LIMIT,
        },
      };
    },
  },
];
