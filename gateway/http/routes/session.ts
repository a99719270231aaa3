/**
 * Owner sessions (docs/http-api.md §Sessions): POST /api/v1/session/challenge {account}
 * gives a one-time challenge; POST /api/v1/session {account, challenge, signature} with
 * the account key's signature over sessionSignBytes gives a bearer token for that account.
 */
import { type AccountRecord, METER_ID_PATTERN, StateKind } from '../../../protocols/index.js';
import { jsonBody, stringField } from '../body.js';
import { HttpError } from '../errors.js';
import type { HttpContext, Route } from '../router.js';

function accountKey(ctx: HttpContext, account: string): AccountRecord {
  const a = ctx.node.record(StateKind.Account, account) as AccountRecord | undefined;
  if (!a) throw new HttpError('E_ACCOUNT_NOT_FOUND', `no account "${account}"`);
  return a;
}

export const sessionRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v1/session/challenge',
    handler: async (req, ctx) => {
      ctx.limits.source(req.remote);
      const account = stringField(await jsonBody(req.body), 'account', METER_ID_PATTERN);
      ctx.limits.account(account);
      accountKey(ctx, account);
      const c = ctx.sessions.challenge(account);
      return { status: 200, json: { account, chainId: ctx.node.genesis.chainId, challenge: c.challenge, expires: c.expires } };
    },
  },
  {
    method: 'POST', path: '/api/v1/session',
    handler: async (req, ctx) => {
      ctx.limits.source(req.remote);
      const o = await jsonBody(req.body);
      const account = stringField(o, 'account', METER_ID_PATTERN);
      const key = accountKey(ctx, account);
      const s = ctx.sessions.open(ctx.node.genesis.chainId, account, stringField(o, 'challenge'), stringField(o, 'signature'), key);
      return { status: 200, json: { account, token: s.token, expires: s.expires, keyEpoch: key.keyEpoch } };
    },
  },
];
