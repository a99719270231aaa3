/** Meters, their committed readings and receipts (JSON, or raw CBOR on Accept: application/cbor). */
import { encodeReceipt } from '../../../protocols/index.js';
import { HttpError } from '../errors.js';
import { intParam, meterIdParam, seqParam } from '../params.js';
import type { Route } from '../router.js';
import { receiptView } from '../views.js';

const READINGS_DEFAULT = 100;
const READINGS_MAX = 1000;

export const meterRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v1/meters',
    handler: async (_req, ctx) => ({ status: 200, json: { meters: ctx.node.listMeters() } }),
  },
  {
    method: 'GET', path: '/api/v1/meters/:id',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      const m = ctx.node.getMeter(id);
      if (!m) throw new HttpError('E_METER_NOT_FOUND', `no meter "${id}"`);
      return { status: 200, json: m };
    },
  },
  {
    method: 'GET', path: '/api/v1/meters/:id/readings',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
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
    method: 'GET', path: '/api/v1/meters/:id/receipts/:seq',
    handler: async (req, ctx) => {
      const id = meterIdParam(req.params.id);
      const seq = seqParam('seq', req.params.seq, { min: 1n });
      const r = await ctx.node.getReceipt(id, seq);
      if (!r) throw new HttpError('E_RECEIPT_NOT_FOUND', `no committed reading ${seq} of meter "${id}"`);
      if (/\bapplication\/cbor\b/i.test(req.headers.accept ?? '')) {
        return { status: 200, body: encodeReceipt(r), contentType: 'application/cbor' };
      }
      return { status: 200, json: receiptView(r) };
    },
  },
];
