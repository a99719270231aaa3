/** POST /api/v1/tx: an operator (or trusted local) transaction, admin token required. */
import { ReasonCode, fromHex, toHex } from '../../../protocols/index.js';
import { requireAdmin } from '../auth.js';
import { HttpError } from '../errors.js';
import type { Route } from '../router.js';

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
    method: 'POST', path: '/api/v1/tx',
    handler: async (req, ctx) => {
      requireAdmin(req.headers, ctx.adminToken);
      const bytes = txBytes(req.headers['content-type'], await req.body());
      if (bytes.length === 0) throw new HttpError('E_HTTP_BAD_BODY', 'body: empty');
      const r = await ctx.node.submitTx(bytes);
      if (r.status === 'accepted') {
        return { status: 202, json: { status: 'accepted', txHash: toHex(r.txHash), seq: r.seq.toString() } };
      }
      const message = r.message.startsWith(`${r.code}: `) ? r.message.slice(r.code.length + 2) : r.message;
      // BUSY and RATE_LIMITED mean "later"; other refusals are final.
      const status = r.code === ReasonCode.BUSY ? 503 : r.code === ReasonCode.RATE_LIMITED ? 429 : 422;
      return {
        status,
        json: {
          status: 'rejected', txHash: toHex(r.txHash), code: r.code, message,
          ...(r.seq !== undefined ? { seq: r.seq.toString() } : {}),
          error: { code: r.code, message },
        },
        ...(status !== 422 ? { headers: { 'retry-after': '1' } } : {}),
      };
    },
  },
];
