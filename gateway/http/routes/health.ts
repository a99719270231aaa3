/** Liveness, readiness and the Prometheus scrape. */
import type { Route } from '../router.js';

export const healthRoutes: Route[] = [
  { method: 'GET', path: '/healthz', handler: async () => ({ status: 200, json: { status: 'ok' } }) },
  {
    method: 'GET', path: '/readyz',
    handler: async (_req, ctx) => {
      const reasons = ctx.readiness();
      return reasons.length === 0
        ? { status: 200, json: { status: 'ready' } }
        : { status: 503, json: { status: 'not ready', reasons, error: { code: 'E_HTTP_NOT_READY', message: reasons.join('; ') } } };
    },
  },
  {
    method: 'GET', path: '/metrics',
    handler: async (_req, ctx) => {
      const m = await ctx.scrapeMetrics();
      return { status: 200, body: m.body, contentType: m.contentType };
    },
  },
];
