/**
 * GET /api/v1/genesis: the chain's genesis document, as this gateway runs it. A verifier
 * (the portal) hashes it itself and compares with the hash it trusts; this route is a
 * convenience, not a source of trust.
 */
import type { Route } from '../router.js';

export const genesisRoutes: Route[] = [
  { method: 'GET', path: '/api/v1/genesis', handler: async (_req, ctx) => ({ status: 200, json: ctx.node.genesis }) },
];
