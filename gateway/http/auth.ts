/**
 * Who may do what over HTTP: the operator (the admin bearer token, compared in constant
 * time) and account owners (a session token, ./sessions.ts). Routes call requireAdmin,
 * requireAccount or requireMeterReader; docs/http-api.md §Access lists each route's rule.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type AccountRecord, StateKind } from '../../protocols/index.js';
import { HttpError } from './errors.js';
import type { HttpContext, HttpRequest } from './router.js';

/** The operator, or the owner of one account. */
export type Principal = { readonly role: 'operator' } | { readonly role: 'owner'; readonly account: string };

const CHALLENGE_HEADERS = { 'www-authenticate': 'Bearer realm="meterledger"' };

function bearer(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
}

// Hash both sides: timingSafeEqual needs equal lengths, and the length is then not leaked.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const isAdminToken = (token: string, adminToken: string | undefined): boolean =>
  adminToken !== undefined && timingSafeEqual(digest(token), digest(adminToken));

/** Throws 403 when POST is disabled or the token is wrong, 401 when none is sent. */
export function requireAdmin(headers: IncomingHttpHeaders, adminToken: string | undefined): void {
  if (adminToken === undefined) throw new HttpError('E_HTTP_ADMIN_DISABLED');
  const token = bearer(headers);
  if (token === undefined) throw new HttpError('E_HTTP_UNAUTHORIZED', undefined, CHALLENGE_HEADERS);
  if (!isAdminToken(token, adminToken)) throw new HttpError('E_HTTP_FORBIDDEN');
}

/** When the owner session of the request's token expires (ms since the epoch); undefined for no token, the operator or a dead session. */
export function sessionExpiry(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext): number | undefined {
  const token = bearer(req.headers);
  return token === undefined || isAdminToken(token, ctx.adminToken) ? undefined : ctx.sessions.lookup(token)?.expires;
}

/**
 * Who sent the request; undefined when no bearer token came. A token that is neither the
 * admin token nor a live session is 401 E_SESSION_INVALID; a session whose account key
 * was rotated since it opened is 401 E_SESSION_REVOKED (and ends).
 */
export function authenticate(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext): Principal | undefined {
  const token = bearer(req.headers);
  if (token === undefined) return undefined;
  if (isAdminToken(token, ctx.adminToken)) return { role: 'operator' };
  const s = ctx.sessions.lookup(token);
  if (!s) throw new HttpError('E_SESSION_INVALID', undefined, CHALLENGE_HEADERS);
  const acc = ctx.node.record(StateKind.Account, s.account) as AccountRecord | undefined;
  if (acc?.keyEpoch !== s.keyEpoch) {
    ctx.sessions.end(token);
    throw new HttpError('E_SESSION_REVOKED', undefined, CHALLENGE_HEADERS);
  }
  return { role: 'owner', account: s.account };
}

/** Like authenticate, but nobody is 401 E_HTTP_UNAUTHORIZED. */
export function requirePrincipal(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext): Principal {
  const p = authenticate(req, ctx);
  if (!p) throw new HttpError('E_HTTP_UNAUTHORIZED', 'send Authorization: Bearer <session token> (POST /api/v1/session) or the admin token', CHALLENGE_HEADERS);
  return p;
}

/**
 * The helper every account-scoped route calls: passes the operator and the owner of
 * `accountId` (a session opened with that account's current key); else 401 (no or a dead
 * token) or 403 E_SESSION_NOT_YOURS (another account's session).
 */
export function requireAccount(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext, accountId: string): Principal {
  const p = requirePrincipal(req, ctx);
  if (p.role === 'owner' && p.account !== accountId) throw new HttpError('E_SESSION_NOT_YOURS');
  return p;
}

/**
 * Reading a meter's data (readings, receipts, events, bills): the operator, or the owner
 * of the account the meter belongs to. An owner gets the same 403 for a meter of another
 * account and for no such meter, so a session does not learn which meter ids exist; the
 * operator gets 404 E_METER_NOT_FOUND.
 */
export function requireMeterReader(req: Pick<HttpRequest, 'headers'>, ctx: HttpContext, meterId: string): Principal {
  const p = requirePrincipal(req, ctx);
  const owner = ctx.node.getMeter(meterId)?.owner;
  if (p.role === 'owner' && (owner === undefined || owner !== p.account)) throw new HttpError('E_SESSION_NOT_YOURS');
  return p;
}
