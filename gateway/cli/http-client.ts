/** The few HTTP calls CLI commands make to a gateway (global fetch, JSON in and out). */
import { isCode } from '../../protocols/codes.js';
import { GatewayError } from '../errors.js';

const TIMEOUT_MS = 30_000;

function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

async function call(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (cause) {
    const why = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
    throw new GatewayError('E_HTTP_UNREACHABLE', `${url}: ${why}`, { cause });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** The error in a `{"error": {code, message}}` body, or the status. */
export function failure(url: string, status: number, body: unknown): GatewayError {
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (isCode(e?.code)) return new GatewayError(e.code, `${e.message ?? ''} (HTTP ${status} from ${url})`);
  // A code this version does not know (a newer gateway): keep it in the message.
  if (e?.code) return new GatewayError('E_HTTP_STATUS', `${e.code}: ${e.message ?? ''} (HTTP ${status} from ${url})`);
  return new GatewayError('E_HTTP_STATUS', `HTTP ${status} from ${url}`);
}

/** GET a JSON answer; `token`, when given, goes as `Authorization: Bearer` (the operator's or a session's). */
export async function getJson<T>(base: string, path: string, token?: string): Promise<T> {
  const url = join(base, path);
  const r = await call(url, { headers: { accept: 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) } });
  if (r.status !== 200) throw failure(url, r.status, r.body);
  return r.body as T;
}

/** GET that answers undefined on 404. */
export async function getJsonOrUndefined<T>(base: string, path: string, token?: string): Promise<T | undefined> {
  const url = join(base, path);
  const r = await call(url, { headers: { accept: 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) } });
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw failure(url, r.status, r.body);
  return r.body as T;
}

export interface TxAccepted {
  readonly status: 'accepted';
  readonly txHash: string;
}

/**
 * POST /api/v1/tx; resolves when accepted, throws the refusal's code otherwise. Without
 * `adminToken` (an owner's own transaction: docs/http-api.md §Submitting) no Authorization goes.
 */
export async function postTx(base: string, adminToken: string | undefined, tx: Uint8Array): Promise<TxAccepted> {
  const url = join(base, '/api/v1/tx');
  const r = await call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/cbor', ...(adminToken !== undefined ? { authorization: `Bearer ${adminToken}` } : {}), accept: 'application/json' },
    body: tx,
  });
  if (r.status === 202) return r.body as TxAccepted;
  const b = r.body as { status?: string; code?: string; message?: string } | undefined;
  if (b?.status === 'rejected' && isCode(b.code)) throw new GatewayError(b.code, b.message ?? 'transaction refused');
  throw failure(url, r.status, r.body);
}

/**
 * POST a JSON body, expecting `status` (200 unless told) and a JSON answer: owner sessions
 * without a token, operator requests (enrolment codes) with it as `Authorization: Bearer`.
 */
export async function postJson<T>(base: string, path: string, body: unknown, opts: { token?: string; status?: number } = {}): Promise<T> {
  const url = join(base, path);
  const r = await call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (r.status !== (opts.status ?? 200)) throw failure(url, r.status, r.body);
  return r.body as T;
}
