/**
 * `meterledger verify`: audit a chain from genesis, either the local store (--data-dir) or
 * a remote gateway's raw blocks (--http with --genesis), block by block. Other copies of
 * the chain given with --receipt, --compare-data-dir or --compare-http are compared at
 * every height both hold: two blocks with valid commit certificates at one height are a
 * fork (E_CHAIN_FORK), which no single copy can show.
 *
 * A remote audit also follows the validator-set changes the gateway serves to receipt
 * checkers (GET /api/v1/validator-set/changes, docs/protocol.md §13.5) from genesis, as
 * `receipt verify --set-changes-http` and the portal do, and holds them against the changes
 * the replayed blocks carry: a served change that does not verify is E_RECEIPT_INVALID, one
 * left out, added or different from the chain's is E_VALSET_CHANGES_MISMATCH.
 */
import { resolve } from 'node:path';
import {
  type Genesis, ProtocolError, StateKind, VALSET_STATE_ID, decodeBlock, decodeCommit, decodeSetChanges, followSetChanges, fromHex, headerHash, sha256, toHex, verifyReceipt,
} from '../../../protocols/index.js';
import type { AuditResult, ChainWitness } from '../../../ledger-node/audit.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, err, optionalString, out, stringList } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';
import { URL_ENV, adminTokenIfGiven, gatewayUrl } from '../client-env.js';
import { getJson } from '../http-client.js';
import { progress } from '../progress.js';
import { readReceiptFile } from './receipt.js';

/** Blocks fetched ahead of the one being audited. */
const PREFETCH = 8;

// Raw blocks hold readings, personal data: the gateway serves them to the operator only (docs/http-api.md §Access).
const rawBlock = (http: string, h: number, token: string | undefined) => getJson<{ block: string; commit: string }>(http, `/api/v1/blocks/${h}/raw`, token);

/** The set changes the replayed chain holds (ledger-node/state/valset.ts's record): each change's transaction hash and including height. */
type ChainChange = { readonly tx: string; readonly height: number };
const chainChanges = (auditor: { state: { committed: { get(kind: string, id: string): unknown } } }): readonly ChainChange[] =>
  (auditor.state.committed.get(StateKind.ValidatorSet, VALSET_STATE_ID) as ChainChange[] | undefined) ?? [];

/**
 * The served set changes, followed from genesis and held against the chain's changes up
 * to the audited height (`blockHash`: the audited block hash of each change's height).
 * Changes the gateway committed above that height are noted, not compared; with no change
 * at all there is no note.
 */
function checkServedChanges(genesis: Genesis, cbor: Uint8Array, chain: readonly ChainChange[], height: number, blockHash: ReadonlyMap<number, string>): AuditResult | string | undefined {
  let served;
  try {
    served = decodeSetChanges(cbor);
    followSetChanges(genesis, served);
  } catch (e) {
    const pe = e as ProtocolError;
    const at = /set change \d+ \(height (\d+)\)/.exec(pe.message);
    return { ok: false, height: at ? Number(at[1]) : 0, code: pe.code ?? 'E_RECEIPT_INVALID', reason: `the validator-set changes the gateway serves do not verify from genesis: ${pe.message}` };
  }
  const below = served.filter((r) => r.header.height <= height);
  const mismatch = (h: number, why: string): AuditResult => ({ ok: false, height: h, code: 'E_VALSET_CHANGES_MISMATCH', reason: `the validator-set changes the gateway serves are not its chain's: ${why}` });
  for (const [i, c] of chain.entries()) {
    const r = below[i];
    if (!r) return mismatch(c.height, `change ${i + 1} (height ${c.height}, tx ${c.tx}) is in the chain but not served`);
    const tx = toHex(sha256(r.tx));
    if (r.header.height !== c.height || tx !== c.tx || toHex(headerHash(r.header)) !== blockHash.get(c.height)) {
      return mismatch(c.height, `change ${i + 1} is served as tx ${tx} in block ${r.header.height} ${toHex(headerHash(r.header)).slice(0, 16)}…, the chain has tx ${c.tx} in block ${c.height} ${(blockHash.get(c.height) ?? '').slice(0, 16)}…`);
    }
  }
  if (below.length > chain.length) return mismatch(below[chain.length]!.header.height, `change ${chain.length + 1} is served at height ${below[chain.length]!.header.height}, the chain holds no such change`);
  const above = served.length - below.length;
  // No change served, none in the chain: nothing to say (the set is genesis's).
  if (served.length === 0) return undefined;
  return `validator-set changes: the ${served.length} the gateway serves verify from genesis${chain.length ? `, and are the chain's ${chain.length}` : ''}${above ? ` (${above} above height ${height}, not compared)` : ''}`;
}

async function auditRemote(http: string, token: string | undefined, genesis: Genesis, witnesses: readonly ChainWitness[], onProgress: (done: number, total: number) => void): Promise<AuditResult> {
  const { ChainAuditor, witnessNotes } = await import('../../../ledger-node/audit.js');
  const status = await getJson<{ chainId: string; height: number }>(http, '/api/v1/status');
  if (status.chainId !== genesis.chainId) {
    return { ok: false, height: 0, reason: `the gateway serves chain "${status.chainId}", the genesis file is for "${genesis.chainId}"` };
  }
  const auditor = new ChainAuditor(genesis, undefined, false, witnesses);
  const total = status.height;
  // Fetched after the status: it holds at least the changes of the heights audited.
  const changesCbor = fromHex((await getJson<{ cbor: string }>(http, '/api/v1/validator-set/changes')).cbor, 'cbor');
  const changeBlocks = new Map<number, string>();
  const ahead = new Map<number, ReturnType<typeof rawBlock>>();
  let txs = 0;
  for (let h = 1; h <= total; h++) {
    for (let k = h; k < h + PREFETCH && k <= total; k++) {
      if (!ahead.has(k)) {
        const p = rawBlock(http, k, token);
        p.catch(() => undefined); // handled when awaited
        ahead.set(k, p);
      }
    }
    const raw = await ahead.get(h)!;
    ahead.delete(h);
    const block = fromHex(raw.block, 'block');
    try {
      // Awaited: the node's ChainAuditor.add returns a promise (signatures checked in a pool).
      await auditor.add(block, fromHex(raw.commit, 'commit'));
    } catch (e) {
      const a = e as { height?: number; reason?: string; message?: string; code?: string };
      return { ok: false, height: a.height ?? h, reason: a.reason ?? a.message ?? String(e), ...(a.code ? { code: a.code } : {}) };
    }
    txs += decodeBlock(block).header.txCount;
    if (chainChanges(auditor).at(-1)?.height === h) changeBlocks.set(h, toHex(auditor.headHash));
    onProgress(h, total);
  }
  const sets = checkServedChanges(genesis, changesCbor, chainChanges(auditor), auditor.height, changeBlocks);
  if (typeof sets === 'object') return sets;
  const notes = [...(sets !== undefined ? [sets] : []), ...witnessNotes(witnesses, auditor.height)];
  return { ok: true, height: auditor.height, txs, notes };
}

/** A receipt (checked on its own first, as `receipt verify` does) as a witness of its one height. */
function receiptWitness(file: string, genesis: Genesis): ChainWitness {
  const r = readReceiptFile(file);
  verifyReceipt(genesis, r); // E_RECEIPT_INVALID with the reason
  const h = r.header.height;
  return { source: `receipt ${file}`, heights: [h], at: (x) => (x === h ? { header: r.header, commit: r.commit } : undefined) };
}

/** Another running gateway's chain, through its read API. */
async function httpWitness(url: string, token: string | undefined, genesis: Genesis): Promise<ChainWitness> {
  const status = await getJson<{ chainId: string; height: number }>(url, '/api/v1/status');
  if (status.chainId !== genesis.chainId) throw new UsageError(`--compare-http ${url} serves chain "${status.chainId}", not "${genesis.chainId}"`);
  return {
    source: `gateway ${url}`,
    height: status.height,
    async at(h) {
      if (h > status.height) return undefined;
      const raw = await rawBlock(url, h, token);
      return { header: decodeBlock(fromHex(raw.block, 'block')).header, commit: decodeCommit(fromHex(raw.commit, 'commit')) };
    },
  };
}

export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: 'Audit a chain from its genesis: hash links, Merkle roots, commit certificates, transactions; and find forks against other copies.',
  options: {
    'data-dir': { type: 'string', value: 'D', help: 'audit the store of this data dir (stop the gateway first); a read-only copy (backup, snapshot) works too' },
    http: { type: 'string', value: 'URL', help: `audit a remote gateway through its /api/v1/blocks/:height/raw (or ${URL_ENV}, when --data-dir is not given)` },
    genesis: { type: 'string', value: 'F', help: 'the genesis file to trust (required with --http; default <data-dir>/genesis.json)' },
    receipt: { type: 'string', value: 'FILE', multiple: true, help: 'a receipt from anywhere (another gateway, a meter): its block must be this chain\'s at its height' },
    'compare-data-dir': { type: 'string', value: 'D2', multiple: true, help: 'another (stopped) gateway\'s data dir: every height both hold must be the same block' },
    'compare-http': { type: 'string', value: 'URL2', multiple: true, help: 'another gateway\'s read API: every height both hold must be the same block' },
    'admin-token-file': {
      type: 'string', value: 'F',
      help: 'with --http or --compare-http: file (mode 0600) holding the gateway\'s http.adminToken, which raw blocks need (or METERLEDGER_HTTP_ADMIN_TOKEN_FILE, or METERLEDGER_HTTP_ADMIN_TOKEN)',
    },
  },
  details: 'Prints "ok: N blocks, M transactions" and exits 0, or "FAILED at height H: reason" and exits 1.\n' +
    'Two blocks with valid commit certificates at one height print "FAILED at height H: E_CHAIN_FORK: ..."\n' +
    'naming both block hashes, their rounds and signers. What another copy holds above this chain\'s\n' +
    'height is not compared (a "note:" line says so). A single copy, or a receipt alone, cannot show a fork.\n' +
    'With --http the validator-set changes the gateway serves (GET /api/v1/validator-set/changes) are\n' +
    'followed from genesis and must be the changes of the chain replayed (docs/protocol.md §13.5):\n' +
    'E_RECEIPT_INVALID when one does not verify, E_VALSET_CHANGES_MISMATCH when one is withheld or different.\n' +
    'A store that cannot be opened in place (read-only mount, no write permission: LevelDB writes a\n' +
    'LOCK and a LOG even to read) is audited from a temporary copy in $TMPDIR, removed afterwards.',
  async run(args) {
    const dataDir = optionalString(args, 'data-dir');
    const http = dataDir === undefined || args.values.http !== undefined ? gatewayUrl(args) : undefined;
    const genesisFile = optionalString(args, 'genesis');
    const token = adminTokenIfGiven(args, 'verify');
    if ((dataDir === undefined) === (http === undefined)) throw new UsageError('give exactly one of --data-dir D or --http URL (see meterledger verify --help)');
    if (http !== undefined && genesisFile === undefined) throw new UsageError('--http needs --genesis F, the genesis file you trust');
    const genesis = genesisFile !== undefined ? loadGenesisFile(resolve(genesisFile)) : loadDataDirGenesis(dataDir!);
    const { auditStore, storeWitness } = await import('../../../ledger-node/audit.js');
    const witnesses: ChainWitness[] = stringList(args, 'receipt').map((f) => receiptWitness(resolve(f), genesis));
    const stores = [];
    let result: AuditResult;
    const bar = progress('verifying', process.stderr, { unit: 'blocks' });
    try {
      for (const d of stringList(args, 'compare-data-dir')) {
        const w = await storeWitness(resolve(d));
        stores.push(w);
        witnesses.push(w);
      }
      for (const u of stringList(args, 'compare-http')) witnesses.push(await httpWitness(u, token, genesis));
      if (dataDir !== undefined) {
        result = await auditStore(resolve(dataDir), genesis, (d, t) => bar.update(d, t), witnesses, err);
      } else {
        result = await auditRemote(http!, token, genesis, witnesses, (d, t) => bar.update(d, t));
      }
    } finally {
      bar.end();
      for (const s of stores) await s.close();
    }
    if (result.ok) {
      out(`ok: ${result.height} blocks, ${result.txs} transactions${witnesses.length ? `, the same as ${witnesses.length} other ${witnesses.length === 1 ? 'copy' : 'copies'} at every height both hold` : ''}`);
      if (result.money) out(`money: ${result.money}`);
      for (const n of result.notes ?? []) out(`note: ${n}`);
      return 0;
    }
    out(`FAILED at height ${result.height}: ${result.code ? `${result.code}: ` : ''}${result.reason}`);
    return 1;
  },
};
