/**
 * `meterledger verify` finds a fork when it is shown both sides (issue 17): two copies of
 * one validator's data dir, each run on its own, commit different blocks at height 1,
 * each with a valid commit certificate (one key signing twice: the same thing as two
 * amnesic validators of four). Each copy verifies alone, as each side of a fork does;
 * with the other side given as a receipt, a store or a gateway's read API, verify fails
 * with E_CHAIN_FORK naming the height and both block hashes.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Genesis, TxType, decodeReceipt, encodeReceipt, signTx, toHex } from '../../../protocols/index.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { CHAIN_FORK, auditStore, storeWitness } from '../../../ledger-node/audit.js';
import { dataPaths, initDevChain } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { startHttpApi } from '../../../gateway/http/server.js';
import { cli } from '../../helpers/gateway-process.js';
import { until } from '../../helpers/until.js';

let root: string;
let genesis: Genesis;
const dirs = { a: '', b: '', a1: '' };
const hash = { a1: '', a2: '', b1: '' };
const receipts = { a: '', b: '', bad: '' };

/** Commit one reading of `meterId` with sequence `seq` on the chain in `dir`; its receipt's file and block hash. */
async function commitOne(dir: string, meterId: string, seq: bigint, file: string): Promise<string> {
  const node = await LedgerNode.open({ dataDir: dir, genesis, blockIntervalMs: 10, verifyWorkers: 0 });
  try {
    const key = loadKeyFile(dataPaths(dir).meterKey(meterId));
    const tx = signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: 1 });
    assert.equal((await node.intake.submit(tx, { meterId, transport: 'mqtt' })).status, 'accepted');
    let receipt;
    await until(`${meterId}/${seq} committed`, async () => (receipt = await node.getReceipt(meterId, seq)) !== undefined, 10_000, 10);
    writeFileSync(file, encodeReceipt(receipt!));
    return toHex((await node.getBlock(receipt!.header.height))!.hash);
  } finally {
    await node.close();
  }
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'meterledger-verify-fork-'));
  dirs.a = join(root, 'a');
  dirs.b = join(root, 'b');
  dirs.a1 = join(root, 'a-at-1');
  genesis = initDevChain(dirs.a, { meters: 2 }).genesis;
  cpSync(dirs.a, dirs.b, { recursive: true }); // the same validator key, run twice
  receipts.a = join(root, 'a.cbor');
  receipts.b = join(root, 'b.cbor');
  hash.a1 = await commitOne(dirs.a, genesis.meters[0]!.id, 1n, receipts.a);
  hash.b1 = await commitOne(dirs.b, genesis.meters[1]!.id, 1n, receipts.b);
  cpSync(dirs.a, dirs.a1, { recursive: true }); // a at height 1
  hash.a2 = await commitOne(dirs.a, genesis.meters[0]!.id, 2n, join(root, 'a2.cbor'));
  receipts.bad = join(root, 'bad.cbor');
  writeFileSync(receipts.bad, encodeReceipt({ ...decodeReceipt(new Uint8Array(readFileSync(receipts.b))), index: 1 }));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('each side of the fork verifies alone; compared, the audit names the height and both blocks (E_CHAIN_FORK)', { timeout: 30_000 }, async () => {
  assert.notEqual(hash.a1, hash.b1);
  assert.equal((await auditStore(dirs.a, genesis)).ok, true);
  assert.equal((await auditStore(dirs.b, genesis)).ok, true);
  const other = await storeWitness(dirs.b);
  try {
    const r = await auditStore(dirs.a, genesis, undefined, [other]);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.code === CHAIN_FORK && r.height === 1, JSON.stringify(r));
    assert.ok(!r.ok && r.reason.includes(hash.a1) && r.reason.includes(hash.b1), r.ok ? '' : r.reason);
  } finally {
    await other.close();
  }
  const same = await storeWitness(dirs.a1);
  try {
    assert.deepEqual(await auditStore(dirs.a, genesis, undefined, [same]), { ok: true, height: 2, txs: 2 });
  } finally {
    await same.close();
  }
});

test('verify --data-dir with --receipt or --compare-data-dir from the other side: E_CHAIN_FORK, exit 1; the same chain: ok, exit 0', { timeout: 60_000 }, async () => {
  const fork = `FAILED at height 1: E_CHAIN_FORK: two blocks with valid commit certificates at height 1: ${hash.a1} (this chain, round 0, signed by validator-0) and ${hash.b1}`;
  const byReceipt = await cli(['verify', '--data-dir', dirs.a, '--receipt', receipts.b]);
  assert.equal(byReceipt.code, 1, byReceipt.stderr);
  assert.ok(byReceipt.stdout.startsWith(`${fork} (receipt ${receipts.b}, round 0, signed by validator-0); validators in both: validator-0`), byReceipt.stdout);
  const byStore = await cli(['verify', '--data-dir', dirs.a, '--compare-data-dir', dirs.b]);
  assert.equal(byStore.code, 1, byStore.stderr);
  assert.ok(byStore.stdout.startsWith(`${fork} (store ${dirs.b}, round 0`), byStore.stdout);
  const ok = await cli(['verify', '--data-dir', dirs.a, '--receipt', receipts.a, '--compare-data-dir', dirs.a1]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stdout, 'ok: 2 blocks, 2 transactions, the same as 2 other copies at every height both hold\n');
  const shorter = await cli(['verify', '--data-dir', dirs.a1, '--compare-data-dir', dirs.a]);
  assert.equal(shorter.code, 0, shorter.stdout + shorter.stderr);
  assert.equal(shorter.stdout, `ok: 1 blocks, 1 transactions, the same as 1 other copy at every height both hold\nnote: store ${dirs.a}: height 2 is beyond this chain (1), not compared\n`);
  const bad = await cli(['verify', '--data-dir', dirs.a, '--receipt', receipts.bad]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: E_RECEIPT_INVALID: inclusion proof/);
  const help = await cli(['verify', '--help']);
  assert.match(help.stdout, /--receipt FILE .*\(repeatable\)/);
});

test('verify --http with a receipt from the other side, and --compare-http against a running gateway of the other side: E_CHAIN_FORK', { timeout: 60_000 }, async () => {
  const node = await LedgerNode.open({ dataDir: dirs.b, genesis, verifyWorkers: 0 });
  const api = await startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0, adminToken: 'verify-fork-admin-token', logger: silentLogger,
  }, '127.0.0.1', 0);
  // Raw blocks are the operator's (docs/http-api.md §Access).
  const env = { METERLEDGER_HTTP_ADMIN_TOKEN: 'verify-fork-admin-token' };
  try {
    const g = dataPaths(dirs.a).genesis;
    const remote = await cli(['verify', '--http', api.url, '--genesis', g, '--receipt', receipts.a], { env });
    assert.equal(remote.code, 1, remote.stderr);
    assert.ok(remote.stdout.startsWith(`FAILED at height 1: E_CHAIN_FORK: two blocks with valid commit certificates at height 1: ${hash.b1} (this chain, round 0, signed by validator-0) and ${hash.a1} (receipt ${receipts.a}`), remote.stdout);
    const cmp = await cli(['verify', '--data-dir', dirs.a, '--compare-http', api.url], { env });
    assert.equal(cmp.code, 1, cmp.stderr);
    assert.ok(cmp.stdout.startsWith(`FAILED at height 1: E_CHAIN_FORK: two blocks with valid commit certificates at height 1: ${hash.a1} (this chain, round 0, signed by validator-0) and ${hash.b1} (gateway ${api.url}, round 0`), cmp.stdout);
  } finally {
    await api.close();
    await node.close();
  }
});
