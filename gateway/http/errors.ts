/**
 * Every error the HTTP API answers with: code, HTTP status and default message, in one
 * table. The body is always `{"error": {"code": "E_...", "message": "..."}}`.
 */

export const HttpErrors = {
  E_HTTP_BAD_PARAM: { status: 400, message: 'a parameter is invalid' },
  E_HTTP_BAD_BODY: { status: 400, message: 'the request body is invalid' },
  E_HTTP_UNAUTHORIZED: { status: 401, message: 'send Authorization: Bearer <admin token>' },
  E_HTTP_FORBIDDEN: { status: 403, message: 'the admin token is wrong' },
  E_HTTP_ADMIN_DISABLED: { status: 403, message: 'admin endpoints (POST, the fleet view) are disabled: start the gateway with an admin token (http.adminTokenFile or http.adminToken; METERLEDGER_HTTP_ADMIN_TOKEN_FILE or METERLEDGER_HTTP_ADMIN_TOKEN) to enable them' },
  E_SESSION_INVALID: { status: 401, message: 'the bearer token is neither the admin token nor a live session: open a session (POST /api/v1/session/challenge, then /api/v1/session)' },
  E_SESSION_REVOKED: { status: 401, message: "the account's key was rotated since this session opened: open a new session with the new key" },
  E_SESSION_BAD_CHALLENGE: { status: 401, message: 'the challenge is unknown, used, expired or for another account: ask for a new one' },
  E_SESSION_BAD_SIGNATURE: { status: 401, message: "the signature does not verify with the account's current key over the session sign bytes (docs/http-api.md §Sessions)" },
  E_SESSION_NOT_YOURS: { status: 403, message: "this session's account may not read or do this" },
  E_ENROL_BAD_CODE: { status: 401, message: 'the enrolment code is unknown, wrong or used: ask your utility for a new one' },
  E_ENROL_EXPIRED: { status: 401, message: 'the enrolment code has expired: ask your utility for a new one' },
  E_ENROL_LOCKED: { status: 403, message: 'too many wrong tries for this enrolment code: it is locked; ask your utility for a new one' },
  E_ENROL_DISABLED: { status: 403, message: 'enrolment is off: this gateway holds no registrar key (a registrar operator key in <dataDir>/keys/operator.key)' },
  E_ENROL_BAD_KEY: { status: 400, message: 'publicKey: must be a P-256 point in SEC1 form as hex' },
  E_ENROL_REFUSED: { status: 422, message: 'the ledger refused the key rotation' },
  E_HTTP_NOT_FOUND: { status: 404, message: 'no such route' },
  E_BLOCK_NOT_FOUND: { status: 404, message: 'no block at this height' },
  E_METER_NOT_FOUND: { status: 404, message: 'no such meter' },
  E_ACCOUNT_NOT_FOUND: { status: 404, message: 'no such account' },
  E_TARIFF_NOT_FOUND: { status: 404, message: 'no such tariff or tariff version' },
  E_BILL_NOT_FOUND: { status: 404, message: 'no committed bill of this meter for this period' },
  E_RECEIPT_NOT_FOUND: { status: 404, message: 'no committed reading with this sequence number' },
  E_TX_NOT_FOUND: { status: 404, message: 'no committed transaction with this hash' },
  E_HTTP_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  E_HTTP_BODY_TOO_LARGE: { status: 413, message: 'the request body exceeds 64 KiB' },
  E_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send application/cbor (raw bytes) or text/plain (hex)' },
  E_HTTP_RATE_LIMITED: { status: 429, message: 'too many requests from this source or for this account; retry later' },
  E_HTTP_INTERNAL: { status: 500, message: 'internal error; see the gateway log' },
  E_HTTP_NOT_READY: { status: 503, message: 'the gateway is not ready' },
  E_SESSION_BUSY: { status: 503, message: 'too many open session challenges; retry in a minute' },
  E_HTTP_TOO_MANY_STREAMS: { status: 503, message: 'too many open event streams; retry later' },
  E_ENROL_TIMEOUT: { status: 504, message: 'the key rotation was accepted but is not committed yet; try signing in shortly' },
  E_PORTAL_NOT_BUILT: { status: 503, message: 'the portal is not built: run npm run build' },
} as const satisfies Record<string, { status: number; message: string }>;

export type HttpErrorCode = keyof typeof HttpErrors;

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    message?: string,
    /** Extra response headers (Allow, WWW-Authenticate ...). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message ?? HttpErrors[code].message);
    this.status = HttpErrors[code].status;
  }
}

/** 400 naming the offending parameter. */
export const badParam = (param: string, why: string): HttpError => new HttpError('E_HTTP_BAD_PARAM', `${param}: ${why}`);

export const errorBody = (code: string, message: string): { error: { code: string; message: string } } => ({ error: { code, message } });
