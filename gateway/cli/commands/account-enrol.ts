/**
 * `meterledger account enrol-code --account ID`: the operator makes a one-time enrolment
 * code for an account through a gateway (POST /api/v1/enrol/codes, docs/http-api.md
 * §Enrolment) and hands it to the owner, who enrols a browser with it at /portal/enrol.
 * The code is printed once; the gateway keeps only its hash.
 */
import { METER_ID_PATTERN } from '../../../protocols/index.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, intFlag, need, out } from '../args.js';
import { adminToken, needGatewayUrl } from '../client-env.js';
import { failure } from '../http-client.js';

const TIMEOUT_MS = 30_000;

export const accountEnrolCodeCommand: CommandSpec = {
  name: 'account enrol-code',
  summary: 'Make a one-time enrolment code for an account: the owner enrols a browser key with it at /portal/enrol.',
  options: {
    account: { type: 'string', value: 'ID', required: true, help: 'account id' },
    http: { type: 'string', value: 'URL', help: 'gateway HTTP API, e.g. http://127.0.0.1:8080 (or METERLEDGER_URL)' },
    'admin-token-file': {
      type: 'string', value: 'F',
      help: 'file (mode 0600) holding the gateway\'s operator token (or METERLEDGER_HTTP_ADMIN_TOKEN_FILE, or the token in METERLEDGER_HTTP_ADMIN_TOKEN)',
    },
    'ttl-days': { type: 'string', value: 'N', help: 'days the code is valid (default 7)' },
    'max-tries': { type: 'string', value: 'N', help: 'wrong tries before the code locks (default 5)' },
  },
  details: 'Prints three lines: "account: ID", "code: XXXX-...", "expires: ISO time". A new code replaces\n' +
    'the account\'s previous one. Enrolling makes the browser\'s key the account key (the registrar\'s\n' +
    'rotation): the key used before, on a lost device too, no longer signs in.',
  async run(args) {
    const cmd = 'account enrol-code';
    const account = need(args, 'account', cmd);
    if (!METER_ID_PATTERN.test(account)) throw new UsageError('--account must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
    const ttlDays = intFlag(args, 'ttl-days', cmd, 1, 90);
    const maxTries = intFlag(args, 'max-tries', cmd, 1, 100);
    const base = needGatewayUrl(args, cmd);
    const token = adminToken(args, cmd);
    const url = base.replace(/\/+$/, '') + '/api/v1/enrol/codes';
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ account, ...(ttlDays !== undefined ? { ttlSeconds: ttlDays * 86_400 } : {}), ...(maxTries !== undefined ? { maxTries } : {}) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (cause) {
      const why = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
      throw new GatewayError('E_HTTP_UNREACHABLE', `${url}: ${why}`, { cause });
    }
    const body = await res.json().catch(() => undefined) as { code?: string; expires?: number; error?: { code: string; message: string } } | undefined;
    if (res.status !== 201 || typeof body?.code !== 'string') {
      throw failure(url, res.status, body);
    }
    out(`account: ${account}`);
    out(`code: ${body.code}`);
    out(`expires: ${new Date(body.expires!).toISOString()}`);
    return 0;
  },
};
