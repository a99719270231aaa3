/**
 * The HTTP API on node:http (no framework): adapts requests to the Router, writes JSON or
 * bytes, and turns every failure into `{"error": {code, message}}` with its status.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES, readBody } from './body.js';
import { type Code, isCode } from '../../protocols/codes.js';
import { HttpError, errorBody } from './errors.js';
import { type HttpContext, type HttpReply, type Route, Router } from './router.js';
import { healthRoutes } from './routes/health.js';
import { statusRoutes } from './routes/status.js';
import { blockRoutes } from './routes/blocks.js';
import { meterRoutes } from './routes/meters.js';
import { txRoutes } from './routes/tx.js';
import { validatorSetRoutes } from './routes/validator-set.js';
import { bundleRoutes } from './routes/bundles.js';
import { genesisRoutes } from './routes/genesis.js';
import { eventRoutes } from './routes/events.js';
import { fleetRoutes } from './routes/fleet.js';
import { portalRoutes } from './routes/portal.js';
import { sessionRoutes } from './routes/session.js';
import { accountRoutes } from './routes/accounts.js';
import { accountEventRoutes } from './routes/account-events.js';
import { accountMoneyRoutes } from './routes/account-money.js';
import { billingRoutes } from './routes/billing.js';
import { enrolRoutes } from './routes/enrol.js';
import { erasureRoutes } from './routes/erasure.js';
import { RequestLimits } from './limits.js';
import { SessionStore } from './sessions.js';

export type { HttpContext } from './router.js';

export const ROUTES: readonly Route[] = [
  ...healthRoutes, ...statusRoutes, ...genesisRoutes, ...blockRoutes, ...meterRoutes, ...eventRoutes, ...fleetRoutes, ...txRoutes, ...validatorSetRoutes, ...bundleRoutes, ...portalRoutes,
  ...sessionRoutes, ...accountRoutes, ...billingRoutes, ...accountEventRoutes, ...accountMoneyRoutes,
  ...enrolRoutes,
  ...erasureRoutes,
];

/** Open event streams at once, over all clients; one more is 503 E_HTTP_TOO_MANY_STREAMS. */
export const MAX_STREAMS = 256;

export interface HttpApi {
  readonly server: Server;
  /** `http://host:port` once listening. */
  readonly url: string;
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Open streams, so close() can end them and MAX_STREAMS can be kept. */
type Streams = Set<ServerResponse>;

function send(res: ServerResponse, reply: HttpReply, head: boolean, streams: Streams): void {
  const headers: Record<string, string | number> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...reply.headers };
  if ('stream' in reply) {
    if (streams.size >= MAX_STREAMS) {
      const e = new HttpError('E_HTTP_TOO_MANY_STREAMS');
      send(res, { status: e.status, json: errorBody(e.code, e.message), headers: { 'retry-after': '5' } }, head, streams);
      return;
    }
    res.writeHead(reply.status, { ...headers, 'content-type': reply.contentType });
    if (head) {
      res.end();
      return;
    }
    res.flushHeaders();
    streams.add(res);
    const done = reply.stream(res);
    res.once('close', () => {
      streams.delete(res);
      done();
    });
    return;
  }
  let body: Uint8Array | string;
  if ('json' in reply) {
    body = JSON.stringify(reply.json) + '\n';
    headers['content-type'] = 'application/json; charset=utf-8';
  } else {
    body = reply.body;
    headers['content-type'] = reply.contentType;
  }
  headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : body);
}

export function handleRequest(router: Router, ctx: HttpContext, streams: Streams = new Set()) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const started = performance.now();
    let reply: HttpReply;
    try {
      // The request target is origin-form (RFC 9112 §3.2.1): path and query, no host.
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const path = q < 0 ? target : target.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
      const { handler, params } = router.match(method, path);
      reply = await handler({
        method, path, params, query, headers: req.headers, remote: req.socket.remoteAddress ?? '',
        body: () => readBody(req, MAX_BODY_BYTES),
      }, ctx);
    } catch (e) {
      if (e instanceof HttpError) {
        reply = { status: e.status, json: errorBody(e.code, e.message), headers: { ...e.headers } };
      } else {
        ctx.logger.error({ err: e, method, url: req.url }, 'http handler failed');
        reply = { status: 500, json: errorBody('E_HTTP_INTERNAL', 'internal error; see the gateway log') };
      }
      // Do not read on after a refusal: the rest of a large body is dropped with the connection.
      if (method === 'POST' || method === 'PUT') reply = { ...reply, headers: { ...reply.headers, connection: 'close' } };
    }
    if (!res.headersSent) send(res, reply, method === 'HEAD', streams);
    // A refusal's code, as in its body: on the access log line and the refusals counter.
    const code = refusalCode(reply);
    if (code) ctx.httpRefused?.(code);
    // The access log, at debug: one line per request (never a header: the admin token is one).
    ctx.logger.debug({
      method, url: req.url, status: reply.status, ...(code ? { code } : {}), ms: Math.round((performance.now() - started) * 10) / 10, remote: req.socket.remoteAddress,
    }, 'http request');
  };
}

/** The code of an error reply's `{"error": {"code"}}` body; undefined for a success. */
function refusalCode(reply: HttpReply): Code | undefined {
  if (reply.status < 400 || !('json' in reply)) return undefined;
  const code = (reply.json as { error?: { code?: unknown } } | undefined)?.error?.code;
  return isCode(code) ? code : undefined;
}

/** PEM key and certificate chain: the API is served over HTTPS. */
export interface HttpTls {
  readonly key: string;
  readonly cert: string;
}

/** What the composition root gives; sessions and limits default to fresh in-memory ones. */
export type HttpSetup = Omit<HttpContext, 'sessions' | 'limits'> & Partial<Pick<HttpContext, 'sessions' | 'limits'>>;

export async function startHttpApi(setup: HttpSetup, host: string, port: number, tls?: HttpTls): Promise<HttpApi> {
  const ctx: HttpContext = { ...setup, sessions: setup.sessions ?? new SessionStore(), limits: setup.limits ?? new RequestLimits() };
  const router = new Router(ROUTES);
  const streams: Streams = new Set();
  const serve = handleRequest(router, ctx, streams);
  const server: Server = tls ? createTlsServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, serve) : createServer(serve);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    address,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Event streams never go idle: end them, so clients reconnect to another gateway.
        for (const res of streams) res.end();
        server.closeIdleConnections();
        // Requests still running get a moment, then their sockets go.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}
