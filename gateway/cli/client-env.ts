/**
 * What the CLI's clients of a gateway (meter register|rotate|revoke, simulate, verify)
 * take from flags or the environment: the gateway's URL (--http or METERLEDGER_URL) and
 * the admin token (--admin-token-file F, METERLEDGER_HTTP_ADMIN_TOKEN_FILE or
 * METERLEDGER_HTTP_ADMIN_TOKEN, the variables the gateway itself reads). A secret is
 * never taken from the command line, where every local user sees it (ps, /proc).
 */
import { readPrivateFile } from '../../ledger-node/keyfile.js';
import { UsageError } from '../errors.js';
import type { ParsedArgs } from './args.js';

export const URL_ENV = 'METERLEDGER_URL';
export const TOKEN_ENV = 'METERLEDGER_HTTP_ADMIN_TOKEN';
export const TOKEN_FILE_ENV = 'METERLEDGER_HTTP_ADMIN_TOKEN_FILE';

type Env = Readonly<Record<string, string | undefined>>;

/** --http URL, else METERLEDGER_URL; undefined when neither is given. */
export function gatewayUrl(args: ParsedArgs, env: Env = process.env): string | undefined {
  const flag = args.values.http;
  if (typeof flag === 'string' && flag !== '') return flag;
  const v = env[URL_ENV];
  return v !== undefined && v !== '' ? v : undefined;
}

export function needGatewayUrl(args: ParsedArgs, command: string, env: Env = process.env): string {
  const u = gatewayUrl(args, env);
  if (u === undefined) throw new UsageError(`missing --http URL, or set ${URL_ENV} (see meterledger ${command} --help)`);
  return u;
}

function tokenFromFile(path: string): string {
  const token = readPrivateFile(path, 'admin token file').toString('utf8').replace(/\r?\n$/, '');
  if (token === '' || /\s/.test(token)) throw new UsageError(`${path} must hold the admin token on one line`);
  return token;
}

/** The admin token: --admin-token-file, else METERLEDGER_HTTP_ADMIN_TOKEN_FILE or METERLEDGER_HTTP_ADMIN_TOKEN. */
export function adminToken(args: ParsedArgs, command: string, env: Env = process.env): string {
  const file = args.values['admin-token-file'];
  if (typeof file === 'string' && file !== '') return tokenFromFile(file);
  const fromFile = env[TOKEN_FILE_ENV];
  const direct = env[TOKEN_ENV];
  if (fromFile && direct) throw new UsageError(`set ${TOKEN_FILE_ENV} or ${TOKEN_ENV}, not both`);
  if (fromFile) return tokenFromFile(fromFile);
  if (direct) return direct;
  throw new UsageError(`no admin token: pass --admin-token-file F (a file of mode 0600), or set ${TOKEN_ENV} or ${TOKEN_FILE_ENV} (see meterledger ${command} --help)`);
}

/** The admin token when one is given (flag or environment), else undefined: for reads that need it only on some gateways. */
export function adminTokenIfGiven(args: ParsedArgs, command: string, env: Env = process.env): string | undefined {
  const file = args.values['admin-token-file'];
  if ((typeof file === 'string' && file !== '') || env[TOKEN_FILE_ENV] || env[TOKEN_ENV]) return adminToken(args, command, env);
  return undefined;
}
