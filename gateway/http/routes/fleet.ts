/**
 * GET /api/v1/fleet (admin token): the operator's read-only view of the fleet: every
 * meter with its last committed reading, and the readings refused so far by reason.
 */
import { requireAdmin } from '../auth.js';
import type { Route } from '../router.js';

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
      return { status: 200, json: { chainId: s.chainId, height: s.height, headTime: s.headTime ?? null, pending: s.pending, meters, rejects } };
    },
  },
];
