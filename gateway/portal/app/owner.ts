/**
 * What the owner does with the browser's key: sign in (the session challenge of
 * docs/http-api.md §Sessions, signed here) and sign the owner's own transactions
 * (mandates, revocations, payments, disputes: docs/billing.md §17-19) as COSE_Sign1 with the
 * protocols/ code, posted to POST /api/v1/tx on their signature alone.
 */
import { encodeCoseSign1, encodeProtectedHeader, sigStructure } from '../../../protocols/cose.js';
import { Alg } from '../../../protocols/keys.js';
import { sessionSignBytes } from '../../../protocols/session.js';
import { type LedgerTxBody, encodeLedgerTxBody } from '../../../protocols/billing/txs.js';
import { ApiError, getJson, setToken } from './api.js';
import { type StoredKey, loadKey, signBytes } from './keys.js';

const ACCOUNT_KEY = 'meterledger.account';
/** The account this tab signed in as with a browser key; null for the operator token or nobody. */
export const signedInAccount = (): string | null => sessionStorage.getItem(ACCOUNT_KEY);
export const forgetAccount = (): void => sessionStorage.removeItem(ACCOUNT_KEY);

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'E_NETWORK', `the gateway did not answer: ${(e as Error).message}`);
  }
  const o = await r.json().catch(() => ({})) as { error?: { code?: string; message?: string } };
  if (!r.ok) throw new ApiError(r.status, o.error?.code ?? `HTTP_${r.status}`, o.error?.message ?? `HTTP ${r.status}`);
  return o as T;
}

async function keyOf(account: string): Promise<StoredKey> {
  const k = await loadKey(account);
  if (!k) throw new ApiError(0, 'E_PORTAL_NO_KEY', `this browser holds no key for account "${account}": enrol it first`);
  return k;
}

/** Open a session for `account` with this browser's key; the token becomes the tab's access token. */
export async function signIn(account: string): Promise<void> {
  const k = await keyOf(account);
  const c = await postJson<{ chainId: string; challenge: string }>('/api/v1/session/challenge', { account });
  const sig = await signBytes(k, sessionSignBytes(c.chainId, account, c.challenge));
  const s = await postJson<{ token: string }>('/api/v1/session', { account, challenge: c.challenge, signature: toHexBytes(sig) });
  setToken(s.token);
  sessionStorage.setItem(ACCOUNT_KEY, account);
}

const toHexBytes = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** COSE_Sign1 of `body` by the account's browser key: ES256, kid = account, chain id as external AAD (docs/protocol.md §3). */
export async function signOwnerTx(chainId: string, account: string, body: LedgerTxBody): Promise<Uint8Array> {
  const k = await keyOf(account);
  const prot = encodeProtectedHeader(Alg.ES256, account);
  const payload = encodeLedgerTxBody(body);
  const sig = await signBytes(k, sigStructure(prot, payload, chainId));
  return encodeCoseSign1(prot, payload, sig);
}

/** POST /api/v1/tx without a token (an owner's transaction carries its signature); the accepted tx hash. */
export async function submitTx(bytes: Uint8Array): Promise<string> {
  const r = await fetch('/api/v1/tx', { method: 'POST', headers: { 'content-type': 'application/cbor', accept: 'application/json' }, body: bytes as BufferSource, cache: 'no-store' });
  const o = await r.json().catch(() => ({})) as { status?: string; txHash?: string; code?: string; message?: string; error?: { code?: string; message?: string } };
  if (r.status !== 202 || o.status !== 'accepted') throw new ApiError(r.status, o.code ?? o.error?.code ?? `HTTP_${r.status}`, o.message ?? o.error?.message ?? `HTTP ${r.status}`);
  return o.txHash!;
}

/** Poll `read` until `done` holds (the change is committed and visible), at most `ms`. */
export async function untilCommitted<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new ApiError(0, 'E_PORTAL_NOT_COMMITTED', `accepted, but not committed within ${ms / 1000} s: reload later`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export { getJson };

/** Minor units as a decimal amount: 1234n, 2 -> "12.34" (integers only, no floats). */
export function formatMinor(v: bigint | string, minorUnits: number): string {
  const n = BigInt(v);
  const neg = n < 0n;
  const s = (neg ? -n : n).toString().padStart(minorUnits + 1, '0');
  const whole = minorUnits === 0 ? s : s.slice(0, -minorUnits);
  return `${neg ? '-' : ''}${whole}${minorUnits === 0 ? '' : `.${s.slice(-minorUnits)}`}`;
}

/** A typed decimal amount ("20", "20.5", "20.50") in minor units; undefined when not one. */
export function parseMinor(text: string, minorUnits: number): bigint | undefined {
  const m = /^(\d{1,15})(?:[.,](\d+))?$/.exec(text.trim());
  if (!m || (m[2] ?? '').length > minorUnits) return undefined;
  return BigInt(m[1]!) * 10n ** BigInt(minorUnits) + BigInt((m[2] ?? '').padEnd(minorUnits, '0') || '0');
}
