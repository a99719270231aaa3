/**
 * `meterledger verify`: audit a chain from genesis, either the local store (--data-dir) or
 * a remote gateway's raw blocks (--http with --genesis), block by block.
 */
import { resolve } from 'node:path';
import { type Genesis, decodeBlock, fromHex } from '../../../protocols/index.js';
import { loadGenesisFile } from '../../../ledger-node/devchain.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, optionalString, out } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';
import { getJson } from '../http-client.js';
import { progress } from '../progress.js';

type AuditResult = { ok: true; height: number; txs: number } | { ok: false; height: number; reason: string };

/** Blocks fetched ahead of the one being audited. */
const PREFETCH = 8;

async function auditRemote(http: string, genesis: Genesis, onProgress: (done: number, total: number) => void): Promise<AuditResult> {
  const { ChainAuditor } = await import('../../../ledger-node/audit.js');
  const status = await getJson<{ chainId: string; height: number }>(http, '/api/v1/status');
  if (status.chainId !== genesis.chainId) {
    return { ok: false, height: 0, reason: `the gateway serves chain "${status.chainId}", the genesis file is for "${genesis.chainId}"` };
  }
  const auditor = new ChainAuditor(genesis);
  const total = status.height;
  const fetchRaw = (h: number) => getJson<{ block: string; commit: string }>(http, `/api/v1/blocks/${h}/raw`);
  const ahead = new Map<number, ReturnType<typeof fetchRaw>>();
  let txs = 0;
  for (let h = 1; h <= total; h++) {
    for (let k = h; k < h + PREFETCH && k <= total; k++) {
      if (!ahead.has(k)) {
        const p = fetchRaw(k);
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
      const a = e as { height?: number; reason?: string; message?: string };
      return { ok: false, height: a.height ?? h, reason: a.reason ?? a.message ?? String(e) };
    }
    txs += decodeBlock(block).header.txCount;
    onProgress(h, total);
  }
  return { ok: true, height: auditor.height, txs };
}

export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: 'Audit a chain from its genesis: hash links, Merkle roots, commit certificates, transactions.',
  options: {
    'data-dir': { type: 'string', value: 'D', help: 'audit the local store of this data dir (stop the gateway first)' },
    http: { type: 'string', value: 'URL', help: 'audit a remote gateway through its /api/v1/blocks/:height/raw' },
    genesis: { type: 'string', value: 'F', help: 'the genesis file to trust (required with --http; default <data-dir>/genesis.json)' },
  },
  details: 'Prints "ok: N blocks, M transactions" and exits 0, or "FAILED at height H: reason" and exits 1.',
  async run(args) {
    const dataDir = optionalString(args, 'data-dir');
    const http = optionalString(args, 'http');
    const genesisFile = optionalString(args, 'genesis');
    if ((dataDir === undefined) === (http === undefined)) throw new UsageError('give exactly one of --data-dir D or --http URL (see meterledger verify --help)');
    if (http !== undefined && genesisFile === undefined) throw new UsageError('--http needs --genesis F, the genesis file you trust');
    const genesis = genesisFile !== undefined ? loadGenesisFile(resolve(genesisFile)) : loadDataDirGenesis(dataDir!);
    const bar = progress('verifying');
    let result: AuditResult;
    try {
      if (dataDir !== undefined) {
        const { auditStore } = await import('../../../ledger-node/audit.js');
        result = await auditStore(resolve(dataDir), genesis, (d, t) => bar.update(d, t));
      } else {
        result = await auditRemote(http!, genesis, (d, t) => bar.update(d, t));
      }
    } finally {
      bar.end();
    }
    if (result.ok) {
      out(`ok: ${result.height} blocks, ${result.txs} transactions`);
      return 0;
    }
    out(`FAILED at height ${result.height}: ${result.reason}`);
    return 1;
  },
};
