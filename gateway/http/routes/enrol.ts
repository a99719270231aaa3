/**
 * Enrolment (docs/http-api.md §Enrolment): POST /api/v1/enrol/codes {account, ttlSeconds?,
 * maxTries?} with the operator token makes a one-time code; POST /api/v1/enrol {account,
 * code, publicKey} makes the browser's ES256 key the account key (the registrar's
 * rotation, committed before the answer). Both are rate-limited per source and account.
 */
import { METER_ID_PATTERN, StateKind } from '../../../protocols/index.js';
import { requireAdmin } from '../auth.js';
import { jsonBody, stringField } from '../body.js';
import { type Enrolment, enrolKey } from '../enrol.js';
import { HttpError } from '../errors.js';
import type { HttpContext, Route } from '../router.js';

function enrolment(ctx: HttpContext): Required<Enrolment> {
  const e = ctx.enrolment;
  if (!e?.binder) throw new HttpError('E_ENROL_DISABLED');
  return { codes: e.codes, binder: e.binder };
}

function optionalInt(o: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new HttpError('E_HTTP_BAD_BODY', `${name}: must be a whole number from ${min} to ${max}`);
  return v;
}

function existingAccount(ctx: HttpContext, account: string): void {
  if (ctx.node.record(StateKind.Account, account) === undefined) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${account}"`);
}

export const enrolRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v1/enrol/codes',
    handler: async (req, ctx) => {
      ctx.limits.source(req.remote);
      requireAdmin(req.headers, ctx.adminToken);
      const { codes } = enrolment(ctx);
      const o = await jsonBody(req.body);
      const account = stringField(o, 'account', METER_ID_PATTERN);
      const ttlSeconds = optionalInt(o, 'ttlSeconds', 1, 90 * 86_400);
      const maxTries = optionalInt(o, 'maxTries', 1, 100);
      existingAccount(ctx, account);
      const c = codes.create(account, { ...(ttlSeconds !== undefined ? { ttlMs: ttlSeconds * 1000 } : {}), ...(maxTries !== undefined ? { maxTries } : {}) });
      return { status: 201, json: { account, code: c.code, expires: c.expires, maxTries: c.maxTries } };
    },
  },
  {
    method: 'POST', path: '/api/v1/enrol',
    handler: async (req, ctx) => {
      ctx.limits.source(req.remote);
      const { codes, binder } = enrolment(ctx);
      const o = await jsonBody(req.body);
      const account = stringField(o, 'account', METER_ID_PATTERN);
      ctx.limits.account(account);
      const code = stringField(o, 'code');
      if (code.length > 64) throw new HttpError('E_HTTP_BAD_BODY', 'code: too long');
      const key = enrolKey(stringField(o, 'publicKey'));
      if (!binder.opens?.(account)) existingAccount(ctx, account);
      codes.take(account, code);
      try {
        const r = await binder.bind(account, key.alg, key.publicKey);
        return { status: 200, json: { account, keyEpoch: r.keyEpoch, txHash: r.txHash, height: r.height } };
      } catch (e) {
        // Refused outright: the code is not spent. A timeout keeps it spent (the rotation may commit).
        if (!(e instanceof HttpError && e.code === 'E_ENROL_TIMEOUT')) codes.giveBack(account);
        throw e;
      }
    },
  },
];
