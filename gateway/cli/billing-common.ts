/**
 * What the billing commands (account, deposit, tariff, agreement, mandate, bill, pay,
 * dispute) share: amounts in the chain's currency, instants, key files, and the two ways a
 * transaction reaches a gateway: signed by an operator role with the data dir's operator
 * key and sent with the admin token, or signed by an account owner with its key file
 * (`--key FILE`, kid = the account id) and sent on its signature alone
 * (docs/http-api.md §Submitting transactions). Secrets come from files, never from flags.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Alg, type Genesis, LedgerTxType, METER_ID_PATTERN, PERIOD_LABEL_PATTERN, ReasonCode, type TxBody, parseGenesis, parseInstant, signMessage, sessionSignBytes, signTx,
} from '../../protocols/index.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import { GatewayError, UsageError } from '../errors.js';
import { type OptionSpec, type ParsedArgs, need, optionalString, out } from './args.js';
import { loadDataDirGenesis, loadOperator } from './chain.js';
import { adminToken, needGatewayUrl } from './client-env.js';
import { getJson, postJson, postTx } from './http-client.js';

export const httpOpt: OptionSpec = { type: 'string', value: 'URL', help: 'gateway HTTP API, e.g. http://127.0.0.1:8080 (or METERLEDGER_URL)' };
export const adminTokenOpt: OptionSpec = {
  type: 'string', value: 'F',
  help: 'file (mode 0600) holding the gateway\'s http.adminToken (or METERLEDGER_HTTP_ADMIN_TOKEN_FILE, or the token in METERLEDGER_HTTP_ADMIN_TOKEN)',
};

/** Flags of a command signed by an operator role (registrar, custodian, biller). */
export function operatorOptions(role: string): Record<string, OptionSpec> {
  return {
    'data-dir': { type: 'string', value: 'D', required: true, help: `data dir holding genesis.json and keys/operator.key (a genesis operator with the ${role} role)` },
    http: httpOpt,
    'admin-token-file': adminTokenOpt,
  };
}

/** Flags of a command signed by an account's owner. */
export const ownerOptions: Record<string, OptionSpec> = {
  key: { type: 'string', value: 'FILE', required: true, help: 'the owner\'s account key file (PKCS#8 PEM, mode 0600): it signs the transaction' },
  account: { type: 'string', value: 'ID', required: true, help: 'the account the owner acts for (the COSE kid)' },
  http: httpOpt,
  genesis: { type: 'string', value: 'F', help: 'genesis file, for the chain id the signature binds (default: the gateway\'s GET /api/v1/genesis)' },
};

export function idFlag(args: ParsedArgs, flag: string, command: string): string {
  const v = need(args, flag, command);
  if (!METER_ID_PATTERN.test(v)) throw new UsageError(`--${flag} must match [A-Za-z0-9][A-Za-z0-9._-]{0,63} (see meterledger ${command} --help)`);
  return v;
}

/** `--period`: a bill's period label, "YYYY-MM" or "cycle-N" (docs/billing.md §5.1). */
export function periodFlag(args: ParsedArgs, command: string): string {
  const p = need(args, 'period', command);
  if (!PERIOD_LABEL_PATTERN.test(p)) throw new UsageError(`--period must be "YYYY-MM" (or "cycle-N" on a chain with a short billing cycle) (see meterledger ${command} --help)`);
  return p;
}

// ------------------------------------------------------------------ amounts (docs/billing.md §2)

const AMOUNT_MAX = 2n ** 63n - 1n;

/**
 * An amount of the chain's currency, as integer minor units, without floats: "1234" is
 * 1234 minor units; "12.34" is 12.34 currency units, i.e. 1234 minor units when the
 * currency has 2 (at most `minorUnits` digits after the point: "12.345" EUR is refused,
 * never rounded). 1 .. 2^63-1 minor units; no sign, exponent, spaces or separators.
 */
export function parseAmount(text: string, minorUnits: number, flag = 'amount'): bigint {
  const m = /^(\d{1,19})(?:\.(\d+))?$/.exec(text);
  if (!m) throw new GatewayError('E_AMOUNT_INVALID', `--${flag} "${text}": give whole minor units (1234) or a decimal of the currency (12.34)`);
  const frac = m[2];
  if (frac !== undefined && frac.length > minorUnits) {
    throw new GatewayError('E_AMOUNT_INVALID', `--${flag} "${text}": the currency has ${minorUnits} decimal${minorUnits === 1 ? '' : 's'}; amounts are never rounded`);
  }
  const v = frac === undefined ? BigInt(m[1]!) : BigInt(m[1]!) * 10n ** BigInt(minorUnits) + BigInt(frac.padEnd(minorUnits, '0'));
  if (v < 1n || v > AMOUNT_MAX) throw new GatewayError('E_AMOUNT_INVALID', `--${flag} "${text}" must be from 1 to 2^63-1 minor units`);
  return v;
}

/** Minor units as a decimal of the currency: 1234n, EUR/2 -> "12.34 EUR"; a negative total keeps its sign. */
export function formatAmount(minor: bigint | string, currency: { code: string; minorUnits: number } | undefined): string {
  const v = BigInt(minor);
  if (!currency) return `${v} minor units`;
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(currency.minorUnits + 1, '0');
  const whole = currency.minorUnits === 0 ? digits : `${digits.slice(0, -currency.minorUnits)}.${digits.slice(-currency.minorUnits)}`;
  return `${neg ? '-' : ''}${whole} ${currency.code}`;
}

export function currencyOf(genesis: Genesis): { code: string; minorUnits: number } {
  if (!genesis.currency) throw new GatewayError('E_BILLING_OFF', `chain "${genesis.chainId}" has no currency in genesis: billing is off`);
  return genesis.currency;
}

/** An instant flag: ISO 8601 with an offset ("2026-01-01T00:00:00Z") or ms since 1970. */
export function instantFlag(args: ParsedArgs, flag: string, command: string): number {
  const v = need(args, flag, command);
  const t = /^\d{1,16}$/.test(v) ? Number(v) : parseInstant(v);
  if (t === undefined || !Number.isSafeInteger(t)) throw new UsageError(`--${flag} must be an instant: ISO 8601 with Z or an offset, or ms since 1970 (see meterledger ${command} --help)`);
  return t;
}

// ------------------------------------------------------------------ keys

/**
 * An owner's public key from a file: a PEM public key (SPKI, what WebCrypto's
 * exportKey('spki') or `openssl pkey -pubout` gives) or the owner's key file itself
 * (PKCS#8 PEM, mode 0600; only its public half is used). Ed25519 or P-256 (ES256).
 */
export function loadPublicKey(path: string): { alg: Alg; publicKey: Uint8Array } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GatewayError('E_KEY_MISSING', `cannot read the public key file ${path}`, { cause });
  }
  if (/PRIVATE KEY/.test(text)) {
    const k = loadKeyFile(path);
    return { alg: k.alg, publicKey: k.publicKey };
  }
  let jwk;
  try {
    jwk = createPublicKey(text).export({ format: 'jwk' });
  } catch (cause) {
    throw new GatewayError('E_KEY_INVALID', `${path} is not a PEM public key (SPKI) nor a PKCS#8 key file`, { cause });
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { alg: Alg.EdDSA, publicKey: new Uint8Array(Buffer.from(jwk.x!, 'base64url')) };
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    const pk = new Uint8Array(33);
    pk[0] = 2 + (y[31]! & 1); // compressed SEC1, as the key files give (ledger-node/keyfile.ts)
    pk.set(x, 1);
    return { alg: Alg.ES256, publicKey: pk };
  }
  throw new GatewayError('E_KEY_INVALID', `${path}: unsupported key type ${jwk.kty}/${jwk.crv ?? ''} (expected Ed25519 or P-256)`);
}

// ------------------------------------------------------------------ reaching the gateway

/** An operator transaction: signed with the data dir's operator key, sent with the admin token. */
export async function submitAsOperator(args: ParsedArgs, command: string, body: (genesis: Genesis) => TxBody | Promise<TxBody>): Promise<{ txHash: string; genesis: Genesis }> {
  const http = needGatewayUrl(args, command);
  const token = adminToken(args, command);
  const genesis = loadDataDirGenesis(need(args, 'data-dir', command));
  const op = loadOperator(need(args, 'data-dir', command), genesis);
  const tx = signTx(genesis.chainId, op.key.alg, op.key.secretKey, await body(genesis), op.id);
  const r = await postTx(http, token, tx);
  return { txHash: r.txHash, genesis };
}

/** The genesis an owner command signs for: --genesis F, else the gateway's. */
/**
 * A custodian's money movement (deposit or withdrawal, docs/billing.md §14): --account,
 * --amount (in the chain's currency) and --ref, signed as custodian; a reference applied
 * before (E_TRANSFER_DUPLICATE) is said and exits 0. `words` shape the two lines it prints.
 */
export async function runCustodianTransfer(
  args: ParsedArgs, cmd: string, type: typeof LedgerTxType.Deposit | typeof LedgerTxType.Withdrawal,
  words: { noun: string; preposition: string; duplicate: string },
): Promise<number> {
  const account = idFlag(args, 'account', cmd);
  const reference = need(args, 'ref', cmd);
  if ([...reference].length > 128) throw new UsageError('--ref must be 1-128 characters');
  const amountText = need(args, 'amount', cmd);
  let amount = 0n;
  try {
    const { txHash, genesis } = await submitAsOperator(args, cmd, (g) => {
      amount = parseAmount(amountText, currencyOf(g).minorUnits);
      return { type, time: Date.now(), account, amount, reference };
    });
    out(`accepted: ${words.noun} ${formatAmount(amount, genesis.currency)} (${amount} minor units) ${words.preposition} ${account}, ref ${reference} (tx ${txHash})`);
    return 0;
  } catch (e) {
    if (e instanceof GatewayError && e.code === ReasonCode.TRANSFER_DUPLICATE) {
      out(`already applied: reference ${reference} ${words.duplicate}; nothing moved again (${e.code})`);
      return 0;
    }
    throw e;
  }
}

export async function ownerGenesis(args: ParsedArgs, http: string): Promise<Genesis> {
  const file = optionalString(args, 'genesis');
  if (file !== undefined) {
    try {
      return parseGenesis(JSON.parse(readFileSync(file, 'utf8')));
    } catch (cause) {
      if (cause instanceof GatewayError) throw cause;
      throw new GatewayError('E_GENESIS_INVALID', `${file}: ${(cause as Error).message}`, { cause });
    }
  }
  return parseGenesis(await getJson<unknown>(http, '/api/v1/genesis'));
}

export interface Owner {
  readonly http: string;
  readonly account: string;
  readonly key: KeyPair;
  readonly genesis: Genesis;
}

export async function owner(args: ParsedArgs, command: string): Promise<Owner> {
  const http = needGatewayUrl(args, command);
  const account = idFlag(args, 'account', command);
  const key = loadKeyFile(need(args, 'key', command));
  return { http, account, key, genesis: await ownerGenesis(args, http) };
}

/** An owner's own transaction (mandate, revocation, payment, dispute): no admin token, its signature is the credential. */
export async function submitAsOwner(o: Owner, body: TxBody): Promise<string> {
  const tx = signTx(o.genesis.chainId, o.key.alg, o.key.secretKey, body, o.account);
  return (await postTx(o.http, undefined, tx)).txHash;
}

/** A session token of the account (docs/http-api.md §Sessions): the challenge, for the chain the gateway names, signed with the owner's key. */
export async function ownerSession(o: Pick<Owner, 'http' | 'account' | 'key'>): Promise<string> {
  const c = await postJson<{ challenge: string; chainId: string }>(o.http, '/api/v1/session/challenge', { account: o.account });
  const sig = signMessage(o.key.alg, o.key.secretKey, sessionSignBytes(c.chainId, o.account, c.challenge));
  const s = await postJson<{ token: string }>(o.http, '/api/v1/session', { account: o.account, challenge: c.challenge, signature: Buffer.from(sig).toString('hex') });
  return s.token;
}

/**
 * Flags of a command that reads personal data as the owner (`--key FILE`, a session) or
 * the operator (the admin token), and prints the gateway's answer as it is with --json.
 */
export function readerOptions(keyHelp: string): Record<string, OptionSpec> {
  return {
    http: httpOpt,
    key: { type: 'string', value: 'FILE', help: keyHelp },
    'admin-token-file': adminTokenOpt,
    json: { type: 'boolean', help: 'print the gateway\'s JSON answer' },
  };
}

/**
 * GET a view of personal data as the reader the flags name (readerToken). With --json it
 * prints the answer and resolves undefined: the command is done.
 */
export async function readView<T>(args: ParsedArgs, command: string, path: string, account?: string): Promise<{ http: string; view: T } | undefined> {
  const http = needGatewayUrl(args, command);
  const view = await getJson<T>(http, path, await readerToken(args, command, http, account));
  if (args.values.json === true) {
    out(JSON.stringify(view));
    return undefined;
  }
  return { http, view };
}

/** Who reads personal data: the owner (--key FILE with --account: a session) or the operator (the admin token). */
export async function readerToken(args: ParsedArgs, command: string, http: string, account?: string): Promise<string> {
  const keyFile = optionalString(args, 'key');
  if (keyFile === undefined) return adminToken(args, command);
  if (account === undefined) throw new UsageError(`--key needs --account, the account it signs for (see meterledger ${command} --help)`);
  return ownerSession({ http, account, key: loadKeyFile(keyFile) });
}
