/** `meterledger receipt verify`: check a receipt offline against a genesis file. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type Genesis, LedgerTxType, type Receipt, TX_TYPE_NAMES, TxType, decodeReceipt, decodeSetChanges, formatTime, fromHex, headerHash, toHex, txMeterId, txSubjects,
  verifyReceipt, verifyReceiptWithSetChanges,
} from '../../../protocols/index.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, optionalString, out } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';
import { getJson } from '../http-client.js';

/** CBOR bytes, or the JSON of GET /api/v1/meters/:id/receipts/:seq or /api/v1/tx/:hash/receipt (its `cbor` field). */
export function readReceiptFile(path: string): Receipt {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new GatewayError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b /* { */) {
    let doc: { cbor?: unknown };
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { cbor?: unknown };
    } catch (cause) {
      throw new GatewayError('E_RECEIPT_MALFORMED', `${path} starts with "{" but is not JSON`, { cause });
    }
    if (typeof doc.cbor !== 'string') throw new GatewayError('E_RECEIPT_MALFORMED', `${path}: JSON has no "cbor" field (expected the receipts endpoint's answer)`);
    try {
      return decodeReceipt(fromHex(doc.cbor, 'cbor'));
    } catch (e) {
      if (e instanceof TypeError) throw new GatewayError('E_RECEIPT_MALFORMED', `${path}: cbor is not hex`);
      throw e;
    }
  }
  return decodeReceipt(bytes);
}

export const receiptVerifyCommand: CommandSpec = {
  name: 'receipt verify',
  summary: 'Verify a receipt with the genesis file alone: inclusion proof, commit certificate, chain.',
  positionals: [{ name: 'FILE', help: 'receipt as CBOR bytes, or the JSON of GET /api/v1/meters/:id/receipts/:seq or /api/v1/tx/:hash/receipt' }],
  options: {
    genesis: { type: 'string', value: 'F', help: 'the genesis file to trust' },
    'data-dir': { type: 'string', value: 'D', help: 'use <D>/genesis.json instead of --genesis' },
    'set-changes': { type: 'string', value: 'F', help: 'the validator-set changes since genesis (CBOR array of their receipts, docs/protocol.md §13.5)' },
    'set-changes-http': { type: 'string', value: 'URL', help: 'fetch the set changes from a gateway (GET /api/v1/validator-set/changes); they are checked from genesis all the same' },
  },
  details: 'Exits 0 and prints what the receipt proves, or exits 1 with the reason. A receipt alone cannot show\n' +
    'that the chain forked (another block with a valid certificate at its height): `meterledger verify\n' +
    '--receipt FILE` compares it with a chain.',
  async run(args) {
    const file = args.positionals[0]!;
    const gFile = optionalString(args, 'genesis');
    const dataDir = optionalString(args, 'data-dir');
    if (gFile === undefined && dataDir === undefined) throw new UsageError('give --genesis F (or --data-dir D) (see meterledger receipt verify --help)');
    const genesis = gFile !== undefined ? loadGenesisFile(resolve(gFile)) : loadDataDirGenesis(dataDir!);
    const receipt = readReceiptFile(file);
    const changesFile = optionalString(args, 'set-changes');
    const changesUrl = optionalString(args, 'set-changes-http');
    if (changesFile !== undefined && changesUrl !== undefined) throw new UsageError('give --set-changes F or --set-changes-http URL, not both');
    const changes = changesFile !== undefined ? readChanges(changesFile) : changesUrl !== undefined ? await fetchChanges(changesUrl) : undefined;
    // Throws E_RECEIPT_INVALID with the reason.
    const v: ReturnType<typeof verifyReceipt> & { validators?: readonly { id: string }[] } =
      changes === undefined ? verifyReceipt(genesis, receipt) : verifyReceiptWithSetChanges(genesis, receipt, decodeSetChanges(changes));
    const b = v.tx.body;
    out('valid receipt: this transaction is committed in the ledger');
    out(`chain:     ${genesis.chainId}`);
    out(`height:    ${v.height} (block ${toHex(headerHash(receipt.header))}, time ${formatTime(receipt.header.time)})`);
    out(`type:      ${TX_TYPE_NAMES[b.type] ?? b.type} (${b.type})`);
    const meter = txMeterId(b);
    if (meter !== undefined) out(`meter:     ${meter}`);
    if (b.type === TxType.Reading) {
      out(`seq:       ${b.seq}`);
      out('sealed' in b ? `reading:   sealed (docs/protocol.md §11; meterledger reading decrypt), at ${formatTime(b.time)}` : `reading:   ${b.importWh} Wh at ${formatTime(b.time)}`);
    }
    if (b.type === LedgerTxType.Bill) out(`bill:      ${b.bill.period.label}, total ${b.bill.total} minor units of ${b.bill.currency.code}, payee ${b.payee}`);
    if ('amount' in b) out(`amount:    ${b.amount} minor units`);
    const about = txSubjects(b);
    if (about.length) out(`about:     ${about.join(', ')}`);
    out(`tx:        ${toHex(v.tx.hash)}`);
    if (v.validators) out(`certified: by the validator set of height ${v.height} (${v.validators.map((x) => x.id).join(', ')}), followed from genesis`);
    out(`signature: ${v.signatureChecked ? 'checked against the signer\'s key in genesis' : 'vouched for by the validators\' commit certificate'}`);
    return 0;
  },
};

/** docs/protocol.md §13.5: the set changes, as a file. */
function readChanges(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw new GatewayError('E_IO', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}

/** The set changes a gateway serves (untrusted: followed from genesis like a file's). */
async function fetchChanges(url: string): Promise<Uint8Array> {
  const r = await getJson<{ cbor?: unknown }>(url, '/api/v1/validator-set/changes');
  if (typeof r.cbor !== 'string' || !/^([0-9a-f]{2})*$/.test(r.cbor)) throw new GatewayError('E_RECEIPT_MALFORMED', `${url}: the set changes answer has no hex "cbor" field`);
  return fromHex(r.cbor, 'cbor');
}
