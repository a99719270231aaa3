/**
 * Receipts of money and bill bundles as users get them: a LevelDB chain a real node built
 * (test/helpers/billing-chain.ts), its HTTP API (GET /api/v1/tx/:hash/receipt,
 * GET /api/v1/bills/:meterId/:period/bundle), and the `meterledger` bin checking what it
 * answered offline: `receipt verify` on a deposit's receipt, `bill verify` on a bundle,
 * a tampered bundle and the vector's forged bill failing with their codes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { sha256, toHex } from '../../../protocols/index.js';
import type { LedgerNode } from '../../../ledger-node/node.js';
import type { HttpApi } from '../../../gateway/http/server.js';
import { startTestHttpApi } from '../../helpers/http-api.js';
import { type BillingChain, buildBillingChain } from '../../helpers/billing-chain.js';
import { readVector } from '../../vectors/generate.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));
const TOKEN = 'bill-proof-admin-token';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let bc: BillingChain;
let node: LedgerNode;
let api: HttpApi;
const get = (path: string, token?: string) => fetch(`${api.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

before(async () => {
  bc = await buildBillingChain();
  node = await bc.open();
  api = await startTestHttpApi(node, TOKEN);
});
after(async () => {
  await api?.close();
  await node?.close();
  bc?.chain.cleanup();
});

test('GET /api/v1/tx/:hash/receipt: a deposit\'s receipt (admin token), which `receipt verify` checks offline; a reading\'s is its meter\'s owner\'s or the operator\'s', async () => {
  const hash = toHex(sha256(bc.tx('deposit (mary)')));
  assert.equal((await get(`/api/v1/tx/${hash}/receipt`)).status, 401, 'money needs a credential');
  const res = await get(`/api/v1/tx/${hash}/receipt`, TOKEN);
  assert.equal(res.status, 200);
  const view = await res.json() as { type: number; typeName: string; txHash: string; about: string[] };
  assert.deepEqual([view.type, view.typeName, view.txHash, view.about], [9, 'deposit', hash, ['account/mary']]);
  const file = join(bc.chain.dataDir, 'deposit-receipt.json');
  writeFileSync(file, JSON.stringify(view));
  const ok = await cli(['receipt', 'verify', file, '--genesis', bc.genesisFile]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /type: +deposit \(9\)/);
  assert.match(ok.stdout, /signature: +checked/, 'the custodian is a genesis operator');

  const reading = (await node.readings('meter-1', 0n, 1))[0]!;
  assert.equal((await get(`/api/v1/tx/${reading.txHash}/receipt`)).status, 401, 'a reading is personal data');
  assert.equal((await get(`/api/v1/tx/${reading.txHash}/receipt`, TOKEN)).status, 200);
  assert.equal((await get(`/api/v1/tx/${'ab'.repeat(32)}/receipt`)).status, 404);
  const bad = await get('/api/v1/tx/xyz/receipt');
  assert.equal(bad.status, 400);
  assert.equal((await bad.json() as { error: { code: string } }).error.code, 'E_HTTP_BAD_PARAM');
});

test('GET /api/v1/bills/:meterId/:period/bundle, then `bill verify`: 0 on the bundle, 1 with the code on a tampered one', async () => {
  assert.equal((await get('/api/v1/bills/meter-1/2026-01/bundle')).status, 401);
  assert.equal((await get('/api/v1/bills/meter-1/2026-02/bundle', TOKEN)).status, 404);
  assert.equal((await get('/api/v1/bills/meter-1/2026-13/bundle', TOKEN)).status, 400);
  const res = await get('/api/v1/bills/meter-1/2026-01/bundle', TOKEN);
  assert.equal(res.status, 200);
  const bundle = await res.json() as { format: string; readings: string[] };
  assert.equal(bundle.format, 'meterledger-bill-bundle');
  const file = join(bc.chain.dataDir, 'bundle.json');
  writeFileSync(file, JSON.stringify(bundle));
  const ok = await cli(['bill', 'verify', file, '--genesis', bc.genesisFile]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^valid bill/);
  assert.match(ok.stdout, /total: +7874 minor units of EUR, payee superenergy/);

  const tampered = join(bc.chain.dataDir, 'tampered.json');
  writeFileSync(tampered, JSON.stringify({ ...bundle, readings: bundle.readings.slice(1) }));
  const bad = await cli(['bill', 'verify', tampered, '--genesis', bc.genesisFile]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^FAILED: E_BUNDLE_INCOMPLETE: the bill uses reading \d+, which has no receipt/);
});

test('`bill verify` on the vector\'s bill with a wrong total, certified anyway: exits 1 with E_BILL_MISMATCH at total', async () => {
  const v = readVector<{ genesis: unknown; tampered: { name: string; code: string; bundle: unknown }[] }>('bill-bundle.json');
  const g = join(bc.chain.dataDir, 'vector-genesis.json');
  writeFileSync(g, JSON.stringify(v.genesis));
  const forged = v.tampered.find((t) => t.code === 'E_BILL_MISMATCH')!;
  const file = join(bc.chain.dataDir, 'forged.json');
  writeFileSync(file, JSON.stringify(forged.bundle));
  const r = await cli(['bill', 'verify', file, '--genesis', g]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^FAILED: E_BILL_MISMATCH: total: committed \d+, recomputed 7874/);
});
