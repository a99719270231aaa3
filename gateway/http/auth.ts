/** Bearer-token check for POST endpoints, in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from './errors.js';

/** Throws 403 when POST is disabled or the token is wrong, 401 when none is sent. */
export function requireAdmin(headers: IncomingHttpHeaders, adminToken: string | undefined): void {
  if (adminToken === undefined) throw new HttpError('E_HTTP_ADMIN_DISABLED');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  if (!m) throw new HttpError('E_HTTP_UNAUTHORIZED', undefined, { 'www-authenticate': 'Bearer realm="meterledger"' });
  // Hash both sides: timingSafeEqual needs equal lengths, and the length is then not leaked.
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  if (!timingSafeEqual(digest(m[1]!), digest(adminToken))) throw new HttpError('E_HTTP_FORBIDDEN');
}
