/**
 * The errors the HTTP API answers with. Code and HTTP status are in the catalogue
 * (protocols/codes.ts); this table holds the default message of the HTTP API's own codes.
 * The body is always `{"error": {"code": "E_...", "message": "..."}}`.
 */
import { type Code, Codes } from '../../protocols/codes.js';

export const HttpErrors = {
  E_HTTP_BAD_PARAM: 'a parameter is invalid',
  E_HTTP_BAD_BODY: 'the request body is invalid',
  E_HTTP_UNAUTHORIZED: 'send Authorization: Bearer <admin token>',
  E_HTTP_FORBIDDEN: 'the admin token is wrong',
  E_HTTP_ADMIN_DISABLED: 'admin endpoints (POST, the fleet view) are disabled: start the gateway with an admin token (http.adminTokenFile or http.adminToken; METERLEDGER_HTTP_ADMIN_TOKEN_FILE or METERLEDGER_HTTP_ADMIN_TOKEN) to enable them',
  E_SESSION_INVALID: 'the bearer token is neither the admin token nor a live session: open a session (POST /api/v1/session/challenge, then /api/v1/session)',
  E_SESSION_EXPIRED: 'the session expired: sign in again',
  E_SESSION_REVOKED: "the account's key was rotated since this session opened: open a new session with the new key",
  E_SESSION_BAD_CHALLENGE: 'the challenge is unknown, used, expired or for another account: ask for a new one',
  E_SESSION_BAD_SIGNATURE: "the signature does not verify with the account's current key over the session sign bytes (docs/http-api.md §Sessions)",
  E_SESSION_NOT_YOURS: "this session's account may not read or do this",
  E_ENROL_BAD_CODE: 'the enrolment code is unknown, wrong or used: ask your utility for a new one',
  E_ENROL_EXPIRED: 'the enrolment code has expired: ask your utility for a new one',
  E_ENROL_LOCKED: 'too many wrong tries for this enrolment code: it is locked; ask your utility for a new one',
  E_ENROL_DISABLED: 'enrolment is off: this gateway holds no registrar key (a registrar operator key in <dataDir>/keys/operator.key)',
  E_ENROL_BAD_KEY: 'publicKey: must be a P-256 point in SEC1 form as hex',
  E_ENROL_REFUSED: 'the ledger refused the key rotation',
  E_ENROL_TIMEOUT: 'the key rotation was accepted but is not committed yet; try signing in shortly',
  E_HTTP_NOT_FOUND: 'no such route',
  E_BLOCK_NOT_FOUND: 'no block at this height',
  E_METER_NOT_FOUND: 'no such meter',
  E_ACCOUNT_NOT_FOUND: 'no such account',
  E_TARIFF_NOT_FOUND: 'no such tariff or tariff version',
  E_BILL_NOT_FOUND: 'no committed bill of this meter for this period',
  E_RECEIPT_NOT_FOUND: 'no committed reading with this sequence number',
  E_TX_NOT_FOUND: 'no committed transaction with this hash',
  E_VALSET_HEIGHT_UNKNOWN: 'the validator set of this height is not known yet (above the head + 2)',
  E_HTTP_METHOD_NOT_ALLOWED: 'method not allowed on this route',
  E_HTTP_BODY_TOO_LARGE: 'the request body exceeds 64 KiB',
  E_HTTP_UNSUPPORTED_MEDIA_TYPE: 'send application/cbor (raw bytes) or text/plain (hex)',
  E_HTTP_RATE_LIMITED: 'too many requests from this source or for this account; retry later',
  E_HTTP_INTERNAL: 'internal error; see the gateway log',
  E_HTTP_NOT_READY: 'the gateway is not ready',
  E_SESSION_BUSY: 'too many open session challenges; retry in a minute',
  E_HTTP_TOO_MANY_STREAMS: 'too many open event streams; retry later',
  E_PORTAL_NOT_BUILT: 'the portal is not built: run npm run build',
} as const satisfies Partial<Record<Code, string>>;

/** A code the API answers with: one with an HTTP status in the catalogue. */
export type HttpErrorCode = { [C in Code]: (typeof Codes)[C] extends { http: number } ? C : never }[Code];

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    message?: string,
    /** Extra response headers (Allow, WWW-Authenticate ...). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message ?? (HttpErrors as Partial<Record<Code, string>>)[code] ?? Codes[code].meaning);
    this.status = Codes[code].http;
  }
}

/** 400 naming the offending parameter. */
export const badParam = (param: string, why: string): HttpError => new HttpError('E_HTTP_BAD_PARAM', `${param}: ${why}`);

export const errorBody = (code: Code, message: string): { error: { code: Code; message: string } } => ({ error: { code, message } });
