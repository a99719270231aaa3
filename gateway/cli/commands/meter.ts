/**
 * `meterledger meter ...`: act as a meter (sign a reading, make a CONNECT token) or as the
 * operator (register, rotate, revoke a meter through a gateway's POST /api/v1/tx).
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import {
  Alg, MAX_SEQ, METER_ID_PATTERN, TxType, algFromName, makeConnectToken, sha256, signTx, toHex,
} from '../../../protocols/index.js';
import { isOwnClientId } from '../../../bridge/mqtt/client-ids.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { generateKeyPair, saveKeyFile } from '../../../ledger-node/keyfile.js';
import type { MeterView } from '../../../ledger-node/api.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, type OptionSpec, type ParsedArgs, err, need, optionalString, out } from '../args.js';
import { loadDataDirGenesis, loadMeterKey, loadOperator } from '../chain.js';
import { adminToken, needGatewayUrl } from '../client-env.js';
import { getJsonOrUndefined, postTx } from '../http-client.js';
import { signReading } from '../sign.js';

const dataDirOpt: OptionSpec = { type: 'string', value: 'D', required: true, help: 'data dir holding genesis.json and keys/' };
const meterOpt: OptionSpec = { type: 'string', value: 'ID', required: true, help: 'meter id' };

function meterIdFlag(args: ParsedArgs, command: string): string {
  const id = need(args, 'meter', command);
  if (!METER_ID_PATTERN.test(id)) throw new UsageError(`--meter must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}`);
  return id;
}

function uintFlag(args: ParsedArgs, flag: string, command: string, dflt?: number): number {
  const v = args.values[flag];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${flag} must be a whole number (see meterledger ${command} --help)`);
  }
  return Number(v);
}

export const meterSignCommand: CommandSpec = {
  name: 'meter sign',
  summary: 'Sign a reading as a meter would: COSE_Sign1 transaction bytes, raw to --out FILE or hex on stdout.',
  options: {
    'data-dir': dataDirOpt,
    meter: meterOpt,
    seq: { type: 'string', value: 'N', required: true, help: 'sequence number, 1..2^64-1, above the last accepted one' },
    wh: { type: 'string', value: 'V', required: true, help: 'cumulative imported energy, Wh' },
    time: { type: 'string', value: 'MS', help: 'reading time, ms since 1970 (default now)' },
    out: { type: 'string', value: 'FILE', help: 'write the raw bytes here instead of hex to stdout' },
  },
  async run(args) {
    const cmd = 'meter sign';
    const dataDir = need(args, 'data-dir', cmd);
    const meterId = meterIdFlag(args, cmd);
    const seqText = need(args, 'seq', cmd);
    if (!/^\d{1,20}$/.test(seqText) || BigInt(seqText) < 1n || BigInt(seqText) > MAX_SEQ) throw new UsageError('--seq must be an integer 1..2^64-1');
    const importWh = uintFlag(args, 'wh', cmd);
    const time = uintFlag(args, 'time', cmd, Date.now());
    const genesis = loadDataDirGenesis(dataDir);
    const key = loadMeterKey(dataDir, meterId);
    const tx = signReading(genesis.chainId, key, { type: TxType.Reading, meterId, seq: BigInt(seqText), time, importWh });
    const file = optionalString(args, 'out');
    if (file) {
      writeFileSync(file, tx);
      err(`wrote ${tx.length} bytes to ${file} (tx ${toHex(sha256(tx))})`);
    } else out(toHex(tx));
    return 0;
  },
};

export const meterTokenCommand: CommandSpec = {
  name: 'meter token',
  summary: 'Print the MQTT CONNECT credentials of a meter: exactly two lines, "username: <id>" and "password: <token>".',
  options: {
    'data-dir': dataDirOpt,
    meter: meterOpt,
    'client-id': { type: 'string', value: 'C', help: 'MQTT client id the token is bound to (default: the meter id; else <meter id>/<suffix>)' },
  },
  details: 'The token is ml1.<time ms>.<signature> over (chain, meter, client id, time); the gateway accepts it\n' +
    'for mqtt.tokenMaxAgeMs (default 5 minutes) around its clock, so make a fresh one for each connection.',
  async run(args) {
    const dataDir = need(args, 'data-dir', 'meter token');
    const meterId = meterIdFlag(args, 'meter token');
    const clientId = optionalString(args, 'client-id') ?? meterId;
    // docs/protocol.md §8.1: the gateway refuses any other client id with CONNACK 2.
    if (!isOwnClientId(meterId, clientId)) throw new UsageError(`--client-id must be "${meterId}" or "${meterId}/<suffix>" with a suffix of 1-64 [A-Za-z0-9._-] (see meterledger meter token --help)`);
    const genesis = loadDataDirGenesis(dataDir);
    const key = loadMeterKey(dataDir, meterId);
    out(`username: ${meterId}`);
    out(`password: ${makeConnectToken(genesis.chainId, meterId, clientId, Date.now(), key.alg, key.secretKey)}`);
    return 0;
  },
};

const operatorOptions: Record<string, OptionSpec> = {
  'data-dir': { type: 'string', value: 'D', required: true, help: 'data dir holding genesis.json and keys/operator.key' },
  http: { type: 'string', value: 'URL', help: 'gateway HTTP API, e.g. http://127.0.0.1:8080 (or METERLEDGER_URL)' },
  'admin-token-file': {
    type: 'string', value: 'F',
    help: 'file (mode 0600) holding the gateway\'s http.adminToken (or METERLEDGER_HTTP_ADMIN_TOKEN_FILE, or the token in METERLEDGER_HTTP_ADMIN_TOKEN)',
  },
  meter: meterOpt,
};

function algFlag(args: ParsedArgs): Alg {
  const name = optionalString(args, 'alg') ?? 'Ed25519';
  try {
    return algFromName(name);
  } catch {
    throw new UsageError('--alg must be Ed25519 or ES256');
  }
}

/** Where and how operator commands reach the gateway; asked first, before any key is made. */
interface GatewayAccess {
  readonly http: string;
  readonly token: string;
}

function gatewayAccess(args: ParsedArgs, command: string): GatewayAccess {
  return { http: needGatewayUrl(args, command), token: adminToken(args, command) };
}

/** Sign an operator transaction with the data dir's operator key and POST it. */
async function submitOperatorTx(args: ParsedArgs, command: string, { http, token }: GatewayAccess, body: Parameters<typeof signTx>[3]): Promise<string> {
  const dataDir = need(args, 'data-dir', command);
  const genesis = loadDataDirGenesis(dataDir);
  const op = loadOperator(dataDir, genesis);
  const tx = signTx(genesis.chainId, op.key.alg, op.key.secretKey, body, op.id);
  const r = await postTx(http, token, tx);
  return r.txHash;
}

export const meterRegisterCommand: CommandSpec = {
  name: 'meter register',
  summary: 'Make a new meter key (keys/meters/ID.key, 0600) and register it through a gateway, signed by keys/operator.key.',
  options: {
    ...operatorOptions,
    alg: { type: 'string', value: 'ALG', help: 'Ed25519 (default) or ES256' },
    owner: { type: 'string', value: 'O', help: 'owner account of the meter' },
  },
  details: 'An existing keys/meters/ID.key is reused (so a failed call can be retried); the file is removed\n' +
    'again if the gateway refuses the registration.',
  async run(args) {
    const cmd = 'meter register';
    const meterId = meterIdFlag(args, cmd);
    const dataDir = need(args, 'data-dir', cmd);
    const access = gatewayAccess(args, cmd);
    const path = dataPaths(dataDir).meterKey(meterId);
    const created = !existsSync(path);
    const key = created ? generateKeyPair(algFlag(args)) : loadMeterKey(dataDir, meterId);
    if (created) saveKeyFile(path, key);
    else err(`using the existing key ${path}`);
    const owner = optionalString(args, 'owner');
    try {
      const txHash = await submitOperatorTx(args, cmd, access, {
        type: TxType.MeterRegister, meterId, time: Date.now(), alg: key.alg, publicKey: key.publicKey,
        ...(owner !== undefined ? { owner } : {}),
      });
      out(`accepted: register ${meterId} (tx ${txHash}); key in ${path}`);
      return 0;
    } catch (e) {
      // A definite refusal (a code from the gateway) means the key is of no use; keep it on network errors.
      if (created && e instanceof GatewayError && e.code !== 'E_HTTP_UNREACHABLE') rmSync(path, { force: true });
      throw e;
    }
  },
};

export const meterRotateCommand: CommandSpec = {
  name: 'meter rotate',
  summary: 'Give a meter a new key through a gateway: the new key goes to keys/meters/ID.key once accepted (the old one to ID.key.old).',
  options: {
    ...operatorOptions,
    alg: { type: 'string', value: 'ALG', help: 'Ed25519 (default) or ES256' },
  },
  details: 'The key epoch is one above the meter\'s current one, read from GET /api/v1/meters/ID.',
  async run(args) {
    const cmd = 'meter rotate';
    const meterId = meterIdFlag(args, cmd);
    const dataDir = need(args, 'data-dir', cmd);
    const access = gatewayAccess(args, cmd);
    const view = await getJsonOrUndefined<MeterView>(access.http, `/api/v1/meters/${encodeURIComponent(meterId)}`, access.token);
    if (!view) throw new GatewayError('E_METER_NOT_FOUND', `the gateway knows no meter "${meterId}"`);
    const key = generateKeyPair(algFlag(args));
    const path = dataPaths(dataDir).meterKey(meterId);
    const next = `${path}.new`;
    rmSync(next, { force: true });
    saveKeyFile(next, key);
    let txHash: string;
    try {
      txHash = await submitOperatorTx(args, cmd, access, {
        type: TxType.MeterRotate, meterId, time: Date.now(), alg: key.alg, publicKey: key.publicKey, keyEpoch: view.keyEpoch + 1,
      });
    } catch (e) {
      rmSync(next, { force: true });
      throw e;
    }
    if (existsSync(path)) renameSync(path, `${path}.old`);
    renameSync(next, path);
    out(`accepted: rotate ${meterId} to key epoch ${view.keyEpoch + 1} (tx ${txHash}); new key in ${path}`);
    return 0;
  },
};

export const meterRevokeCommand: CommandSpec = {
  name: 'meter revoke',
  summary: 'Revoke a meter through a gateway: its readings are refused from then on.',
  options: operatorOptions,
  async run(args) {
    const meterId = meterIdFlag(args, 'meter revoke');
    const txHash = await submitOperatorTx(args, 'meter revoke', gatewayAccess(args, 'meter revoke'), { type: TxType.MeterRevoke, meterId, time: Date.now() });
    out(`accepted: revoke ${meterId} (tx ${txHash})`);
    return 0;
  },
};
