/**
 * `meterledger reading decrypt`: a recipient opens a sealed reading (docs/protocol.md §11)
 * on its own machine with its recipient key file; the gateway never decrypts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type Genesis, type PeriodKeyBody, type PeriodKeySchedule, type SealedReading, decodeAnyTx, decodeReceipt, decryptReading, fromHex, openPeriodKey,
  PERIOD_KEY_TX_TYPE, toHex, verifyReceipt,
} from '../../../protocols/index.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { eraseRecipientKeyFile, loadRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, type ParsedArgs, optionalString, out } from '../args.js';
import { getJson, postJson } from '../http-client.js';
import { URL_ENV, adminToken, adminTokenIfGiven, gatewayUrl } from '../client-env.js';

/** An owner's session token (POST /api/v1/session), for reads of its own meters. */
export const SESSION_ENV = 'METERLEDGER_SESSION';
import { loadDataDirGenesis } from '../chain.js';
import { readReceiptFile } from './receipt.js';

/** Transaction bytes from a file: raw CBOR, or hex text. */
function txFile(path: string): Uint8Array {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (cause) {
    throw new GatewayError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const text = b.toString('utf8').trim();
  return /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? fromHex(text, path) : new Uint8Array(b);
}

/** The sealed readings in FILE: a receipt (CBOR or the receipts endpoint's JSON), the readings endpoint's JSON (or one of its readings), or the transaction. */
function sealedReadings(path: string): SealedReading[] {
  const text = readFileSync(path).toString('utf8').trim();
  let txs: Uint8Array[];
  if (text.startsWith('{')) {
    const j = JSON.parse(text) as { sealed?: string; readings?: { sealed?: string }[]; cbor?: string };
    if (j.cbor !== undefined) txs = [readReceiptFile(path).tx];
    else txs = (j.readings ?? [j]).map((r) => r.sealed).filter((s): s is string => typeof s === 'string').map((s) => fromHex(s, 'sealed'));
  } else {
    const bytes = txFile(path);
    txs = [bytes[0] === 0xd2 ? bytes : readReceiptFile(path).tx];
  }
  const out = txs.map((t) => decodeAnyTx(t, Infinity).body).filter((b): b is SealedReading => b.type === 1 && 'sealed' in b);
  if (out.length === 0) throw new GatewayError('E_CONF_MALFORMED', `${path} holds no sealed reading`);
  return out;
}

/** The bearer token for a gateway read: the owner's session (METERLEDGER_SESSION), else the admin token. */
function gatewayAuth(args: ParsedArgs): string | undefined {
  const session = process.env[SESSION_ENV];
  return session ? session : adminTokenIfGiven(args, 'reading decrypt');
}

/**
 * The period keys the readings are sealed under, from GET /api/v1/meters/:id/period-keys:
 * each receipt checked against the genesis this machine trusts (a gateway cannot hand
 * over a key transaction the chain did not commit).
 */
async function fetchPeriodKeys(url: string, genesis: Genesis, readings: readonly SealedReading[], token: string | undefined): Promise<PeriodKeyBody[]> {
  const out: PeriodKeyBody[] = [];
  const wanted = new Map(readings.map((r) => [`${r.meterId}/${toHex(r.sealed.keyId)}`, r] as const));
  for (const [, r] of wanted) {
    const path = `/api/v1/meters/${encodeURIComponent(r.meterId)}/period-keys?keyId=${toHex(r.sealed.keyId)}`;
    const body = await getJson<{ periodKeys?: { cbor: string }[] }>(url, path, token);
    for (const k of body.periodKeys ?? []) {
      const v = verifyReceipt(genesis, decodeReceipt(fromHex(k.cbor, 'cbor')));
      if (v.tx.body.type === PERIOD_KEY_TX_TYPE) out.push(v.tx.body as PeriodKeyBody);
    }
  }
  if (out.length === 0) throw new GatewayError('E_CONF_UNKNOWN_KEY', `${url} has no committed period key for these readings`);
  return out;
}

export const readingDecryptCommand: CommandSpec = {
  name: 'reading decrypt',
  summary: 'Open sealed readings with a recipient key file: this machine decrypts, no gateway does.',
  positionals: [{ name: 'FILE', help: 'a receipt, the JSON of GET /api/v1/meters/:id/readings (or one reading of it), or the transaction' }],
  options: {
    key: { type: 'string', value: 'F', help: 'the recipient key file ({"id", "kem", "secretKey"}, mode 600)' },
    'period-key': { type: 'string', value: 'F', help: 'the period key transaction (type 5) the readings are sealed under, as CBOR or hex' },
    http: { type: 'string', value: 'URL', help: 'fetch the period keys from this gateway instead (or METERLEDGER_URL), with the owner\'s session (METERLEDGER_SESSION) or the admin token' },
    'admin-token-file': { type: 'string', value: 'F', help: 'the operator\'s admin token file, for --http (or METERLEDGER_HTTP_ADMIN_TOKEN[_FILE])' },
    genesis: { type: 'string', value: 'F', help: 'the chain\'s genesis file' },
    'data-dir': { type: 'string', value: 'D', help: 'use <D>/genesis.json instead of --genesis' },
  },
  details: 'Prints one JSON line per reading: meterId, seq, time, importWh, exportWh, powerW. Exits 1 with\n' +
    'E_CONF_NOT_RECIPIENT (the key is not one the period key is wrapped to), E_CONF_UNKNOWN_KEY (a reading\n' +
    'under another period key), E_CONF_AUTH_FAILED or E_CONF_KEY_MISMATCH (tampered, or wrongly sealed).',
  async run(args) {
    const keyFile = optionalString(args, 'key');
    const pkFile = optionalString(args, 'period-key');
    const url = pkFile === undefined ? gatewayUrl(args) : undefined;
    if (keyFile === undefined || (pkFile === undefined && url === undefined)) {
      throw new UsageError(`give --key F and --period-key F, or --http URL (or ${URL_ENV}) to fetch the period keys (see meterledger reading decrypt --help)`);
    }
    const gFile = optionalString(args, 'genesis');
    const dataDir = optionalString(args, 'data-dir');
    if (gFile === undefined && dataDir === undefined) throw new UsageError('give --genesis F (or --data-dir D)');
    const genesis = gFile !== undefined ? loadGenesisFile(resolve(gFile)) : loadDataDirGenesis(dataDir!);
    const secret = loadRecipientKeyFile(keyFile);
    const readings = sealedReadings(args.positionals[0]!);
    let keys: PeriodKeyBody[];
    if (pkFile !== undefined) {
      const pk = decodeAnyTx(txFile(pkFile), Infinity).body;
      if (pk.type !== PERIOD_KEY_TX_TYPE) throw new GatewayError('E_CONF_MALFORMED', `${pkFile} is not a period key transaction (type ${PERIOD_KEY_TX_TYPE})`);
      keys = [pk as PeriodKeyBody];
    } else {
      keys = await fetchPeriodKeys(url!, genesis, readings, gatewayAuth(args));
    }
    const schedules = new Map<string, PeriodKeySchedule>();
    const scheduleOf = async (r: SealedReading): Promise<PeriodKeySchedule> => {
      const id = toHex(r.sealed.keyId);
      const pk = keys.find((k) => toHex(k.keyId) === id && k.meterId === r.meterId) ?? keys[0]!;
      const key = `${pk.meterId}/${toHex(pk.keyId)}`;
      let s = schedules.get(key);
      if (!s) schedules.set(key, (s = await openPeriodKey(genesis.chainId, pk, secret.key.id, secret.recipient)));
      return s;
    };
    for (const r of readings) {
      const v = decryptReading(genesis.chainId, await scheduleOf(r), r);
      out(JSON.stringify({ meterId: v.meterId, seq: v.seq.toString(), time: v.time, importWh: v.importWh, ...(v.exportWh !== undefined ? { exportWh: v.exportWh } : {}), ...(v.powerW !== undefined ? { powerW: v.powerW } : {}) }));
    }
    return 0;
  },
};

export const readingEraseCommand: CommandSpec = {
  name: 'reading erase',
  summary: 'Erase a recipient key (docs/protocol.md §11.8): the file\'s secret is overwritten; with --http, the running gateway that bills with it drops it too.',
  options: {
    key: { type: 'string', value: 'F', help: 'the recipient key file to erase ({"id", "kem", "secretKey"}, mode 600)' },
    http: { type: 'string', value: 'URL', help: 'a running gateway whose billing.autoIssue.recipientKeyFile is this key: it drops the key and the period keys it opened (POST /api/v1/admin/recipient-keys/erase)' },
    'admin-token-file': { type: 'string', value: 'F', help: 'the operator\'s admin token file, for --http (or METERLEDGER_HTTP_ADMIN_TOKEN[_FILE])' },
  },
  details: 'The file keeps a tombstone {"id", "kem", "erased"}: reading decrypt and the gateway then refuse it with\n' +
    'E_KEY_ERASED. Every period key wrapped to this key is then unreadable to its holder, and the readings\n' +
    'sealed under them too, unless a bill disclosed them (their content keys are on the ledger). Copies of\n' +
    'the file elsewhere (backups) are not reached. Receipts, blocks, bills and meterledger verify are unchanged.',
  async run(args) {
    const keyFile = optionalString(args, 'key');
    if (keyFile === undefined) throw new UsageError('give --key F, the recipient key file to erase (see meterledger reading erase --help)');
    const url = optionalString(args, 'http');
    let id: string;
    try {
      id = loadRecipientKeyFile(keyFile).key.id;
    } catch (e) {
      if ((e as { code?: string }).code !== 'E_KEY_ERASED') throw e;
      id = eraseRecipientKeyFile(keyFile).id;
    }
    if (url !== undefined) {
      // The gateway first: if it cannot be told, the file stays and the command can be run again.
      const r = await postJson<{ held: boolean; dropped: number }>(url, '/api/v1/admin/recipient-keys/erase', { id }, { token: adminToken(args, 'reading erase') });
      out(r.held ? `gateway ${url}: erased ${id} and the ${r.dropped} period key${r.dropped === 1 ? '' : 's'} opened with it` : `gateway ${url}: holds no recipient key ${id}`);
    }
    const e = eraseRecipientKeyFile(keyFile);
    out(e.now ? `erased ${id} in ${keyFile}` : `${keyFile}: ${id} was erased before`);
    return 0;
  },
};
