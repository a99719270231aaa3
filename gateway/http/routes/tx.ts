/**
 * POST /api/v1/tx: a signed transaction. Operator-role and meter transactions need the
 * admin token. The owner's own transactions (mandate, mandate revocation, payment,
 * dispute: docs/billing.md §17-19) need none: their signature, checked by the ledger's
 * rules against the account (or paying meter) key in state, is the credential. Those are
 * rate-limited per source address and per signing account or meter.
 * GET /api/v1/tx/:hash/receipt: the receipt of any committed transaction by its hash.
 */
import { Codes, LARGEST_TX_BYTES, LedgerTxType, ReasonCode, type SubmitResult, decodeAnyTx, encodeReceipt, fromHex, isLedgerTxType, toHex, VALSET_TX_TYPE } from '../../../protocols/index.js';
import { requireAdmin, requireMeterReader } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import type { HttpReply, Route } from '../router.js';
import { receiptView } from '../views.js';

/** application/cbor or application/octet-stream: raw bytes; text/plain: hex. */
function txBytes(contentType: string | undefined, body: Uint8Array): Uint8Array {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/cbor' || type === 'application/octet-stream') return body;
  if (type === 'text/plain' || type === '') {
    const hex = Buffer.from(body).toString('utf8').trim().replace(/^0x/i, '');
    try {
      return fromHex(hex, 'body');
    } catch {
      throw new HttpError('E_HTTP_BAD_BODY', 'body: text/plain must be the transaction bytes as hex');
    }
  }
  throw new HttpError('E_HTTP_UNSUPPORTED_MEDIA_TYPE', `content-type ${type}: send application/cbor (raw bytes) or text/plain (hex)`);
}

export const txRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/tx/:hash/receipt',
    handler: async (req, ctx) => {
      const raw = req.params.hash ?? '';
      if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw badParam('hash', 'must be the 64 hex digits of a transaction\'s SHA-256');
      const r = await ctx.node.getTxReceipt(fromHex(raw.toLowerCase(), 'hash'));
      if (!r) throw new HttpError('E_TX_NOT_FOUND', `no committed transaction ${raw.toLowerCase()}`);
      // Money (types 6-19) is an account's data: the operator's token for now (an owner
      // reads its bills, payments and bundles on the account routes); a meter's readings
      // and transactions are its owner's or the operator's, as /meters/:id/receipts/:seq.
      const body = decodeAnyTx(r.tx, Number.MAX_SAFE_INTEGER).body;
      // A validator-set change is public, as block headers are: the set changes of §13.5.
      if (body.type === VALSET_TX_TYPE) { /* anyone */ } else if (isLedgerTxType(body.type)) requireAdmin(req.headers, ctx.adminToken);
      else requireMeterReader(req, ctx, (body as { meterId: string }).meterId);
      if (/\bapplication\/cbor\b/i.test(req.headers.accept ?? '')) return { status: 200, body: encodeReceipt(r), contentType: 'application/cbor' };
      return { status: 200, json: receiptView(r) };
    },
  },
  {
    method: 'POST', path: '/api/v1/tx',
    handler: async (req, ctx) => {
      if (req.headers.authorization === undefined) ctx.limits.source(req.remote);
      else requireAdmin(req.headers, ctx.adminToken);
      const bytes = txBytes(req.headers['content-type'], await req.body());
      if (bytes.length === 0) throw new HttpError('E_HTTP_BAD_BODY', 'body: empty');
      if (req.headers.authorization === undefined) {
        const refused = ownerOnly(bytes, ctx.adminToken);
        if (refused) return reply(refused);
        ctx.limits.account(signerOf(bytes));
      }
      return reply(await ctx.node.submitTx(bytes));
    },
  },
];

/**
 * The types accepted without the admin token: an owner's (or its meter's), and a
 * validator-set change, which carries its own approvals (docs/protocol.md §13.6).
 */
const OWNER_TYPES: ReadonlySet<number> = new Set([LedgerTxType.Mandate, LedgerTxType.MandateRevoke, LedgerTxType.Payment, LedgerTxType.Dispute, VALSET_TX_TYPE]);

/**
 * Without the admin token: undefined for an owner transaction (go on), a refusal for a
 * transaction that does not decode, and 401 (or 403 when POST is disabled) for any other type.
 */
function ownerOnly(bytes: Uint8Array, adminToken: string | undefined): SubmitResult | undefined {
  let type: number;
  try {
    type = decodeAnyTx(bytes, LARGEST_TX_BYTES).body.type;
  } catch (e) {
    const code = (e as { code?: ReasonCode }).code ?? ReasonCode.SCHEMA;
    return { status: 'rejected', txHash: new Uint8Array(32), code, message: (e as Error).message };
  }
  if (OWNER_TYPES.has(type)) return undefined;
  if (adminToken === undefined) throw new HttpError('E_HTTP_ADMIN_DISABLED');
  throw new HttpError('E_HTTP_UNAUTHORIZED', `transaction type ${type} needs Authorization: Bearer <admin token>; only mandates, revocations, payments, disputes and validator-set changes are accepted on their signatures alone`, { 'www-authenticate': 'Bearer realm="meterledger"' });
}

/** Who signed an owner transaction, for its rate limit: the kid (account), else the paying meter. */
function signerOf(bytes: Uint8Array): string {
  const tx = decodeAnyTx(bytes, LARGEST_TX_BYTES);
  return tx.cose.kid ?? ('meterId' in tx.body ? `meter:${tx.body.meterId}` : '');
}

function reply(r: SubmitResult): HttpReply {
  if (r.status === 'accepted') {
    return { status: 202, json: { status: 'accepted', txHash: toHex(r.txHash), seq: r.seq.toString() } };
  }
  const message = r.message;
  // BUSY and RATE_LIMITED mean "later"; other refusals are final.
  const status = (Codes[r.code] as { http?: number } | undefined)?.http ?? 422;
  return {
    status,
    json: {
      status: 'rejected', txHash: toHex(r.txHash), code: r.code, message,
      ...(r.seq !== undefined ? { seq: r.seq.toString() } : {}),
      error: { code: r.code, message },
    },
    ...(status !== 422 ? { headers: { 'retry-after': '1' } } : {}),
  };
}
