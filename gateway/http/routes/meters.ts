/**
 * Meters, their committed readings and receipts (JSON, or raw CBOR on Accept: application/cbor).
 * Consumption data is personal data: each route needs the owner's session or the
 * operator token (docs/http-api.md §Access); the list shows an owner only its meters.
 */
import { type PeriodKeyBody, type Receipt, TxType, decodeAnyTx, encodeReceipt, fromHex, sha256, toHex } from '../../../protocols/index.js';
import { requireMeterReader, requirePrincipal } from '../auth.js';
import { HttpError, badParam } from '../errors.js';
import { intParam, meterIdParam, seqParam } from '../params.js';
import type { Route } from '../router.js';
import { receiptView } from '../views.js';

const READINGS_DEFAULT = 100;
const READINGS_MAX = 1000;

/** A period key transaction's receipt, with its period and keyId up front. */
function periodKeyView(r: Receipt) {
  const b = decodeAnyTx(r.tx, Number.MAX_SAFE_INTEGER).body as PeriodKeyBody;
  return { period: b.period, keyId: toHex(b.keyId), recipients: b.recipients.map((w) => w.recipientId), ...receiptView(r) };
}

export const meterRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/meters',
    handler: async (req, ctx) => {
      const p = requirePrincipal(req, ctx);
      const meters = ctx.node.listMeters();
      return { status: 200, json: { meters: p.role === 'operator' ? meters : meters.filter((m) => m.owner === p.account) } };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      requireMeterReader(req, ctx, id);
      const m = ctx.node.getMeter(id);
      if (!m) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      return { status: 200, json: m };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id/readings',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      requireMeterReader(req, ctx, id);
      const fromSeq = seqParam('fromSeq', req.query.get('fromSeq'), { min: 0n, dflt: 0n });
      const limit = intParam('limit', req.query.get('limit'), { min: 1, max: READINGS_MAX, dflt: READINGS_DEFAULT });
      if (!ctx.node.getMeter(id)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      const readings = await ctx.node.readings(id, fromSeq, limit);
      const last = readings.at(-1);
      const nextFromSeq = readings.length === limit && last ? (BigInt(last.seq) + 1n).toString() : null;
      return { status: 200, json: { meterId: id, readings, nextFromSeq } };
    },
  },
  {
    // A confidential meter's period key transactions with their receipts (docs/http-api.md):
    // what a recipient needs to open the sealed readings; the keys in them are wrapped.
    method: 'GET', path: '/api/v1/meters/:id/period-keys',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      requireMeterReader(req, ctx, id);
      const k = req.query.get('keyId');
      if (k !== null && !/^[0-9a-f]{32}$/.test(k)) throw badParam('keyId', 'must be 32 lowercase hex digits');
      if (!ctx.node.getMeter(id)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      const receipts = await ctx.node.periodKeyReceipts(id, k === null ? undefined : fromHex(k, 'keyId'));
      return { status: 200, json: { meterId: id, periodKeys: receipts.map(periodKeyView) } };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id/receipts/:seq',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      const seq = seqParam('seq', req.params.seq, { min: 1n });
      requireMeterReader(req, ctx, id);
      const r = await ctx.node.getReceipt(id, seq);
      if (!r) throw new HttpError('E_RECEIPT_NOT_FOUND', `no committed reading ${seq} of meter "${id}"`);
      if (/\bapplication\/cbor\b/i.test(req.headers.accept ?? '')) {
        return { status: 200, body: encodeReceipt(r), contentType: 'application/cbor' };
      }
      return { status: 200, json: receiptView(r) };
    },
  },
  {
    // The meter's registry transactions with their receipts, so a browser learns a key
    // registered or rotated after genesis from a committed transaction it verifies itself.
    method: 'GET', path: '/api/v1/meters/:id/keys',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      requireMeterReader(req, ctx, id);
      if (!ctx.node.getMeter(id)) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      const names: Record<number, string> = { [TxType.MeterRegister]: 'register', [TxType.MeterRotate]: 'rotate', [TxType.MeterRevoke]: 'revoke' };
      const txs = (await ctx.node.meterKeyReceipts(id)).map((r) => ({
        type: names[decodeAnyTx(r.tx, Number.MAX_SAFE_INTEGER).body.type] ?? 'other',
        height: r.header.height, index: r.index, txHash: toHex(sha256(r.tx)), cbor: toHex(encodeReceipt(r)),
      }));
      return { status: 200, json: { meterId: id, txs } };
    },
  },
];
