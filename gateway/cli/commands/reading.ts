/**
 * `meterledger reading decrypt`: a recipient opens a sealed reading (docs/protocol.md §11)
 * on its own machine with its recipient key file; the gateway never decrypts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type PeriodKeyBody, type SealedReading, decodeAnyTx, decryptReading, fromHex, openPeriodKey, PERIOD_KEY_TX_TYPE,
} from '../../../protocols/index.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { loadRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, optionalString, out } from '../args.js';
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

export const readingDecryptCommand: CommandSpec = {
  name: 'reading decrypt',
  summary: 'Open sealed readings with a recipient key file: this machine decrypts, no gateway does.',
  positionals: [{ name: 'FILE', help: 'a receipt, the JSON of GET /api/v1/meters/:id/readings (or one reading of it), or the transaction' }],
  options: {
    key: { type: 'string', value: 'F', help: 'the recipient key file ({"id", "kem", "secretKey"}, mode 600)' },
    'period-key': { type: 'string', value: 'F', help: 'the period key transaction (type 5) the readings are sealed under, as CBOR or hex' },
    genesis: { type: 'string', value: 'F', help: 'the chain\'s genesis file' },
    'data-dir': { type: 'string', value: 'D', help: 'use <D>/genesis.json instead of --genesis' },
  },
  details: 'Prints one JSON line per reading: meterId, seq, time, importWh, exportWh, powerW. Exits 1 with\n' +
    'E_CONF_NOT_RECIPIENT (the key is not one the period key is wrapped to), E_CONF_UNKNOWN_KEY (a reading\n' +
    'under another period key), E_CONF_AUTH_FAILED or E_CONF_KEY_MISMATCH (tampered, or wrongly sealed).',
  async run(args) {
    const keyFile = optionalString(args, 'key');
    const pkFile = optionalString(args, 'period-key');
    if (keyFile === undefined || pkFile === undefined) throw new UsageError('give --key F and --period-key F (see meterledger reading decrypt --help)');
    const gFile = optionalString(args, 'genesis');
    const dataDir = optionalString(args, 'data-dir');
    if (gFile === undefined && dataDir === undefined) throw new UsageError('give --genesis F (or --data-dir D)');
    const genesis = gFile !== undefined ? loadGenesisFile(resolve(gFile)) : loadDataDirGenesis(dataDir!);
    const secret = loadRecipientKeyFile(keyFile);
    const pk = decodeAnyTx(txFile(pkFile), Infinity).body;
    if (pk.type !== PERIOD_KEY_TX_TYPE) throw new GatewayError('E_CONF_MALFORMED', `${pkFile} is not a period key transaction (type ${PERIOD_KEY_TX_TYPE})`);
    const schedule = await openPeriodKey(genesis.chainId, pk as PeriodKeyBody, secret.key.id, secret.recipient);
    for (const r of sealedReadings(args.positionals[0]!)) {
      const v = decryptReading(genesis.chainId, schedule, r);
      out(JSON.stringify({ meterId: v.meterId, seq: v.seq.toString(), time: v.time, importWh: v.importWh, ...(v.exportWh !== undefined ? { exportWh: v.exportWh } : {}), ...(v.powerW !== undefined ? { powerW: v.powerW } : {}) }));
    }
    return 0;
  },
};
