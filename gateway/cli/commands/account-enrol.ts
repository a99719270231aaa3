/**
 * `meterledger account enrol-code --account ID`: the operator makes a one-time enrolment
 * code for an account through a gateway (POST /api/v1/enrol/codes, docs/http-api.md
 * §Enrolment) and hands it to the owner, who enrols a browser with it at /portal/enrol.
 * The code is printed once; the gateway keeps only its hash.
 */
import { type CommandSpec, intFlag, out } from '../args.js';
import { adminToken, needGatewayUrl } from '../client-env.js';
import { failure, postJson } from '../http-client.js';
import { adminTokenOpt, httpOpt, idFlag } from '../billing-common.js';

const PATH = '/api/v1/enrol/codes';

export const accountEnrolCodeCommand: CommandSpec = {
  name: 'account enrol-code',
  summary: 'Make a one-time enrolment code for an account: the owner enrols a browser key with it at /portal/enrol.',
  options: {
    account: { type: 'string', value: 'ID', required: true, help: 'account id' },
    http: httpOpt,
    'admin-token-file': adminTokenOpt,
    'ttl-days': { type: 'string', value: 'N', help: 'days the code is valid (default 7)' },
    'max-tries': { type: 'string', value: 'N', help: 'wrong tries before the code locks (default 5)' },
  },
  details: 'Prints three lines: "account: ID", "code: XXXX-...", "expires: ISO time". A new code replaces\n' +
    'the account\'s previous one. Enrolling makes the browser\'s key the account key (the registrar\'s\n' +
    'rotation): the key used before, on a lost device too, no longer signs in.',
  async run(args) {
    const cmd = 'account enrol-code';
    const account = idFlag(args, 'account', cmd);
    const ttlDays = intFlag(args, 'ttl-days', cmd, 1, 90);
    const maxTries = intFlag(args, 'max-tries', cmd, 1, 100);
    const http = needGatewayUrl(args, cmd);
    const body = { account, ...(ttlDays !== undefined ? { ttlSeconds: ttlDays * 86_400 } : {}), ...(maxTries !== undefined ? { maxTries } : {}) };
    const made = await postJson<{ code?: string; expires?: number } | undefined>(http, PATH, body, { token: adminToken(args, cmd), status: 201 });
    if (typeof made?.code !== 'string') throw failure(http.replace(/\/+$/, '') + PATH, 201, made);
    out(`account: ${account}`);
    out(`code: ${made.code}`);
    out(`expires: ${new Date(made.expires!).toISOString()}`);
    return 0;
  },
};
