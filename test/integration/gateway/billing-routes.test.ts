/**
 * The billing read routes and owner transactions over HTTP, on a real LedgerNode (memory
 * store) driven through the ledger vector's story (test/vectors/billing-ledger.json):
 * operator transactions with the admin token, the owners' mandate, payment and dispute
 * without it; then each owner, in a session opened with its account key (John's rotated
 * Ed25519 key, Mary's ES256 one), reads its account, its bill with line items, and not
 * the other's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Alg, type Genesis, fromHex, sessionSignBytes, signMessage, toHex } from '../../../protocols/index.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import type { HttpApi } from '../../../gateway/http/server.js';
import { startTestHttpApi } from '../../helpers/http-api.js';
import { DEC_20, FEB_2, billingVector, fillerRegistration, januaryReadings, signVectorReading, vectorGenesis, vectorTx } from '../../helpers/billing-vector.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';
import { until } from '../../helpers/until.js';

const v = billingVector();
const tx = (name: string): Uint8Array => vectorTx(v, name);
const TOKEN = 'billing-routes-admin-token';

let chain: TestChain;
let genesis: Genesis;
let node: LedgerNode;
let api: HttpApi;
let clock = DEC_20;

before(async () => {
  chain = makeTestChain({ meters: 1 });
  genesis = vectorGenesis(v, chain);
  node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis, blockIntervalMs: 1500, verifyWorkers: 1, now: () => clock });
  // 1.5 s blocks: the posts of one batch land in one block, as in the vector (its bills name height 9).
  api = await startTestHttpApi(node, TOKEN);
});
after(async () => {
  await api?.close();
  await node?.close();
  chain?.cleanup();
});

async function call(path: string, headers: Record<string, string> = {}, init: RequestInit = {}) {
  const res = await fetch(api.url + path, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as any };
}
const OP = { authorization: `Bearer ${TOKEN}` };
/** POST a transaction; with the admin token when `operator`. */
async function post(name: string, operator: boolean): Promise<void> {
  const r = await call('/api/v1/tx', { 'content-type': 'application/cbor', ...(operator ? OP : {}) }, { method: 'POST', body: tx(name) });
  assert.equal(r.status, 202, `${name}: ${JSON.stringify(r.body)}`);
}
const committed = () => until('everything waiting is committed', () => node.status().pending === 0, 20_000, 20);

async function session(account: string, key: string): Promise<{ status: number; body: any }> {
  const k = v.keys[key]!;
  const c = await call('/api/v1/session/challenge', { 'content-type': 'application/json' }, { method: 'POST', body: JSON.stringify({ account }) });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const sig = signMessage(k.alg === 'ES256' ? Alg.ES256 : Alg.EdDSA, fromHex(k.secretKey), sessionSignBytes(genesis.chainId, account, c.body.challenge));
  return call('/api/v1/session', { 'content-type': 'application/json' }, { method: 'POST', body: JSON.stringify({ account, challenge: c.body.challenge, signature: toHex(sig) }) });
}

test('operator transactions with the token, owners\' own without; then each owner reads its billing state and only its own', { timeout: 120_000 }, async () => {
  for (const name of [
    'account open (Ed25519 owner key)', 'account open (ES256 owner key)', 'account open of the payee account',
    'account open by an operator without roles in genesis (registrar)', 'account key rotation to epoch 1', 'meter to account',
    'meter to account (ES256 meter)', 'deposit (ES256 custodian)', 'withdrawal', 'tariff publication', 'agreement', 'agreement (meter-2)',
  ]) await post(name, true);
  // An operator's transaction without the token is refused before the node sees it.
  const noToken = await call('/api/v1/tx', { 'content-type': 'application/cbor' }, { method: 'POST', body: tx('deposit (mary)') });
  assert.equal(noToken.status, 401);
  // John's mandate: his signature is the credential.
  await post('mandate (owner, rotated key), no autopay', false);
  await committed();

  for (const r of januaryReadings(v)) {
    clock = Math.max(clock, r.time);
    assert.equal((await node.submitTx(signVectorReading(v, genesis.chainId, r))).status, 'accepted');
    if (r.meterId === 'meter-2') await committed();
  }
  await committed();
  assert.ok(node.status().height <= 9, `the readings are committed by height 9, where the vector's bills were computed (at ${node.status().height})`);
  // The vector's bills were computed at height 9: registrations fill the chain up to it.
  clock = FEB_2;
  for (let i = 0; node.status().height < 9; i++) {
    assert.equal((await node.submitTx(fillerRegistration(v, genesis.chainId, i, clock))).status, 'accepted');
    await committed();
  }
  await post('bill', true);
  await post('bill (meter-2)', true);
  await committed();
  // The operator's fleet view lists both committed bills as unpaid, newest first (one height).
  const unpaid = async () => {
    const f = await call('/api/v1/fleet', OP);
    assert.equal(f.status, 200, JSON.stringify(f.body));
    assert.deepEqual(f.body.currency, genesis.currency);
    assert.equal(f.body.unpaidBillsLimit, 1000);
    assert.equal(f.body.unpaidBillsCount, f.body.unpaidBills.length);
    return f.body.unpaidBills as { meterId: string; period: string; account: string; total: string; currency: string; height: number; disputed: boolean }[];
  };
  const before = await unpaid();
  assert.deepEqual(before.map((b) => `${b.meterId}/${b.period}`), ['meter-1/2026-01', 'meter-2/2026-01']);
  assert.deepEqual(before[0], { meterId: 'meter-1', period: '2026-01', account: 'john', payee: 'superenergy', total: '7874', credited: '0', currency: genesis.currency!.code, height: before[0]!.height, disputed: false });
  assert.ok(before[0]!.height > 9, 'the height the bill was committed at');
  assert.equal((await call('/api/v1/fleet')).status, 401, 'the fleet stays the operator\'s');
  await post('deposit (mary)', true);
  await post('payment signed by the meter, under the mandate', false);
  await committed();
  // Paid: meter-1's bill leaves the list; meter-2's stays until Mary pays it.
  assert.deepEqual((await unpaid()).map((b) => `${b.meterId}/${b.period}`), ['meter-2/2026-01']);
  await post('payment by the owner (ES256 account key)', false);
  await post('dispute by the owner', false);
  await committed();

  // Sessions: John's key was rotated to john-2, so his first key no longer opens one.
  const stale = await session('john', 'john');
  assert.equal(stale.status, 401);
  assert.equal(stale.body.error.code, 'E_SESSION_BAD_SIGNATURE');
  const john = await session('john', 'john-2');
  assert.equal(john.status, 200, JSON.stringify(john.body));
  assert.equal(john.body.keyEpoch, 1);
  const mary = await session('mary', 'mary');
  assert.equal(mary.status, 200, JSON.stringify(mary.body));
  const J = { authorization: `Bearer ${john.body.token}` };
  const M = { authorization: `Bearer ${mary.body.token}` };

  const acct = await call('/api/v1/accounts/john', J);
  assert.equal(acct.status, 200);
  assert.deepEqual(acct.body.meters, ['meter-1']);
  assert.equal(acct.body.keyEpoch, 1);
  assert.match(acct.body.balance, /^\d+$/);
  assert.equal((await call('/api/v1/accounts/john', M)).status, 403);
  assert.equal((await call('/api/v1/accounts/mary', M)).body.alg, 'ES256');

  const mandates = await call('/api/v1/accounts/john/mandates', J);
  assert.equal(mandates.body.mandates.length, 1);
  assert.equal(mandates.body.mandates[0].payee, 'superenergy');
  assert.equal(mandates.body.mandates[0].revoked, false);

  assert.deepEqual(await unpaid(), [], 'every committed bill is paid');

  const bill = await call('/api/v1/bills/meter-1/2026-01', J);
  assert.equal(bill.status, 200, JSON.stringify(bill.body));
  assert.equal(bill.body.total, '7874');
  assert.equal(bill.body.paid, true);
  assert.equal(bill.body.payment.by, 'meter');
  assert.equal(bill.body.dispute.status, 'open');
  assert.equal(bill.body.computedAtHeight, 9);
  assert.equal(bill.body.bill.total, 7874);
  assert.ok(bill.body.bill.lines.length > 0, 'the line items come from the committed bill transaction');
  assert.match(bill.body.txHash, /^[0-9a-f]{64}$/);
  assert.equal((await call('/api/v1/bills/meter-1/2026-01', M)).status, 403);
  assert.equal((await call('/api/v1/bills/meter-2/2026-01', M)).body.payment.by, 'owner');
  assert.equal((await call('/api/v1/bills/meter-1/2026-02', J)).body.error.code, 'E_BILL_NOT_FOUND');

  const johnBills = await call('/api/v1/accounts/john/bills', J);
  assert.deepEqual(johnBills.body.bills.map((b: { meterId: string; period: string }) => `${b.meterId}/${b.period}`), ['meter-1/2026-01']);
  const payee = await call('/api/v1/accounts/superenergy/bills', OP);
  assert.equal(payee.body.bills.length, 2, 'the payee sees the bills paid to it');

  assert.equal((await call('/api/v1/meters/meter-1/readings', J)).body.readings.length > 0, true);
  assert.equal((await call('/api/v1/meters/meter-1/readings', M)).status, 403);
  assert.equal((await call('/api/v1/meters/meter-1/agreement', J)).body.entries.length, 1);
  assert.deepEqual((await call('/api/v1/meters', M)).body.meters.map((m: { meterId: string }) => m.meterId), ['meter-2']);

  const tariffs = await call('/api/v1/tariffs');
  assert.equal(tariffs.status, 200);
  assert.equal(tariffs.body.tariffs.length, 1);
  const t = await call(`/api/v1/tariffs/${tariffs.body.tariffs[0].name}`);
  assert.equal(t.body.versions[0].id, tariffs.body.tariffs[0].versions[0].id);
  assert.equal(typeof t.body.versions[0].tariff, 'object');
});
