/** The gateway's HTTP API (docs/http-api.md), same origin only. Errors keep the API's code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * The bearer token this tab reads meters' data with: an owner's session token or the
 * operator token (docs/http-api.md, "Access"). Kept in this tab's sessionStorage only and
 * sent only to this gateway, never in a URL.
 */
const TOKEN_KEY = 'meterledger.accessToken';
export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (t: string): void => sessionStorage.setItem(TOKEN_KEY, t);
export const clearToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

/** The authorization header of the stored token, if any. */
export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** The gateway refused the credentials (none, expired, revoked, another account's). */
export const isRefusal = (e: unknown): e is ApiError => e instanceof ApiError && (e.status === 401 || e.status === 403);

export async function getJson<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, { headers: { accept: 'application/json', ...authHeaders(), ...headers }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'E_NETWORK', `the gateway did not answer: ${(e as Error).message}`);
  }
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(r.status, 'E_BAD_ANSWER', `the gateway's answer to ${path} is not JSON`);
  }
  if (!r.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(r.status, e?.code ?? `HTTP_${r.status}`, e?.message ?? `HTTP ${r.status}`);
  }
  return body as T;
}

export interface MeterInfo {
  readonly meterId: string;
  readonly alg: string;
  readonly publicKey: string;
  readonly revoked: boolean;
  readonly owner?: string;
  readonly lastSeq: string;
}

/** A row of GET /meters/:id/readings: an index only, never shown unverified. */
export interface ReadingRow {
  readonly seq: string;
  readonly time: number;
  readonly height: number;
  readonly txHash: string;
}

export interface BlockSummary {
  readonly chainId: string;
  readonly height: number;
  readonly time: number;
  readonly prevHash: string;
  readonly txRoot: string;
  readonly txCount: number;
  readonly proposer: string;
}

export const meterPath = (id: string): string => `/api/v1/meters/${encodeURIComponent(id)}`;
