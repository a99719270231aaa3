/** The HTTP API over a real loopback socket, against an in-memory LedgerApi. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  TxType, decodeReceipt, fromHex, signTx, toHex, verifyReceipt, Alg, randomSecretKey, sha256,
} from '../../../protocols/index.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { type HttpApi, startHttpApi } from '../../../gateway/http/server.js';
import { GatewayMetrics } from '../../../gateway/metrics.js';
import { readinessReasons } from '../../../gateway/readiness.js';
import { type FakeLedger, makeFakeLedger } from '../../helpers/fake-ledger.js';

const TOKEN = 'admin-token-for-tests-0123';
/** The operator's headers: reading meters' data needs them (or the owner's session). */
const OP = { authorization: `Bearer ${TOKEN}` };
let node: FakeLedger;
let api: HttpApi;
let brokerUp = true;

async function startWith(adminToken: string | undefined): Promise<HttpApi> {
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  return startHttpApi({
    node,
    scrapeMetrics: () => metrics.scrape(),
    readiness: () => readinessReasons({ node, mqttListening: brokerUp }),
    mqttClients: () => 3,
    adminToken,
    logger: silentLogger,
  }, '127.0.0.1', 0);
}

before(async () => {
  node = makeFakeLedger();
  api = await startWith(TOKEN);
});
after(() => api.close());

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; res: Response }> {
  const res = await fetch(api.url + path, { headers, signal: AbortSignal.timeout(5000) });
  const type = res.headers.get('content-type') ?? '';
  const body = type.startsWith('application/json') ? await res.json() : new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, res };
}

async function post(path: string, body: Uint8Array | string, headers: Record<string, string>, base = api.url): Promise<{ status: number; body: any; res: Response }> {
  const res = await fetch(base + path, { method: 'POST', body, headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json(), res };
}

function assertError(r: { status: number; body: any }, status: number, code: string, mentions?: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  if (mentions) assert.match(r.body.error.message, mentions);
}

test('GET /healthz is 200; /readyz is 200 when ready and 503 with reasons when not', { timeout: 10_000 }, async () => {
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  node.isReady = false;
  brokerUp = false;
  try {
    const r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.reasons, ['ledger node not ready', 'mqtt broker not listening']);
  } finally {
    node.isReady = true;
    brokerUp = true;
  }
});

test('/readyz is 503 with a reason while the node has no quorum or is syncing; one block behind is a commit in flight, not syncing', { timeout: 10_000 }, async () => {
  try {
    node.hasQuorum = false;
    let r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'E_HTTP_NOT_READY');
    assert.equal(r.body.reasons.length, 1);
    assert.match(r.body.reasons[0], /^no quorum: /);
    assert.equal((await get('/api/v1/status')).body.ready, false);
    node.hasQuorum = true;
    node.behind = 1;
    assert.equal((await get('/readyz')).status, 200);
    node.behind = 7;
    r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.reasons, ['syncing: 7 blocks behind a peer']);
    assert.deepEqual((await get('/api/v1/status')).body.consensus, { round: 0, peers: [], nats: null, quorum: true, behind: 7, syncing: true, voting: true, stateProblem: null, halted: null });
  } finally {
    node.hasQuorum = true;
    node.behind = 0;
  }
  assert.equal((await get('/readyz')).status, 200);
});

test('GET /api/v1/status: chain id, height, head hash, role, mqtt clients', { timeout: 10_000 }, async () => {
  const r = await get('/api/v1/status');
  assert.equal(r.status, 200);
  assert.equal(r.body.chainId, 'test-chain');
  assert.equal(r.body.height, 1);
  assert.equal(r.body.headHash, node.status().headHash);
  assert.equal(r.body.role, 'validator');
  assert.equal(r.body.validatorId, 'validator-0');
  assert.deepEqual(r.body.mqtt, { clients: 3 });
  assert.match(r.res.headers.get('content-type')!, /^application\/json/);
});

test('GET /metrics answers the Prometheus text format', { timeout: 10_000 }, async () => {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.res.headers.get('content-type')!, /^text\/plain/);
  assert.match(Buffer.from(r.body).toString(), /# TYPE meterledger_readings_accepted_total counter/);
});

test('blocks: one block with hex hashes and commit, raw bytes, a page of headers', { timeout: 10_000 }, async () => {
  const b = await get('/api/v1/blocks/1');
  assert.equal(b.status, 200);
  assert.equal(b.body.height, 1);
  assert.equal(b.body.hash, node.status().headHash);
  assert.match(b.body.prevHash, /^[0-9a-f]{64}$/);
  assert.equal(b.body.txCount, 2);
  assert.deepEqual(b.body.txHashes, node.readingTxs.map((t) => toHex(sha256(t))));
  assert.match(b.body.commit.signatures[0].signature, /^[0-9a-f]{128}$/);
  const raw = await get('/api/v1/blocks/1/raw', OP);
  const expected = await node.getBlockBytes(1);
  assert.equal(raw.body.block, toHex(expected!.block));
  assert.equal(raw.body.commit, toHex(expected!.commit));
  const list = await get('/api/v1/blocks?from=1&limit=100');
  assert.equal(list.body.blocks.length, 1);
  assert.equal(list.body.blocks[0].hash, node.status().headHash);
  assert.equal(list.body.blocks[0].txHashes, undefined, 'the list holds headers only');
});

test('bad parameters are 400 E_HTTP_BAD_PARAM naming the parameter', { timeout: 10_000 }, async () => {
  assertError(await get('/api/v1/blocks/abc'), 400, 'E_HTTP_BAD_PARAM', /^height:/);
  assertError(await get('/api/v1/blocks/0'), 400, 'E_HTTP_BAD_PARAM', /^height:/);
  assertError(await get('/api/v1/blocks?limit=101'), 400, 'E_HTTP_BAD_PARAM', /^limit:/);
  assertError(await get('/api/v1/blocks?from=x'), 400, 'E_HTTP_BAD_PARAM', /^from:/);
  assertError(await get('/api/v1/meters/meter-0001/readings?limit=1001', OP), 400, 'E_HTTP_BAD_PARAM', /^limit:/);
  assertError(await get('/api/v1/meters/meter-0001/readings?fromSeq=-1', OP), 400, 'E_HTTP_BAD_PARAM', /^fromSeq:/);
  assertError(await get('/api/v1/meters/meter-0001/receipts/0', OP), 400, 'E_HTTP_BAD_PARAM', /^seq:/);
  assertError(await get('/api/v1/meters/meter-0001/receipts/18446744073709551616', OP), 400, 'E_HTTP_BAD_PARAM', /^seq:/);
  assertError(await get('/api/v1/meters/bad%20id', OP), 400, 'E_HTTP_BAD_PARAM', /^id:/);
});

test('unknown routes are 404, unknown objects 404 with their own code, wrong methods 405', { timeout: 10_000 }, async () => {
  assertError(await get('/api/v1/nothing'), 404, 'E_HTTP_NOT_FOUND');
  assertError(await get('/api/v1/blocks/7'), 404, 'E_BLOCK_NOT_FOUND');
  assertError(await get('/api/v1/blocks/7/raw', OP), 404, 'E_BLOCK_NOT_FOUND');
  assertError(await get('/api/v1/meters/meter-9999', OP), 404, 'E_METER_NOT_FOUND');
  assertError(await get('/api/v1/meters/meter-0001/receipts/3', OP), 404, 'E_RECEIPT_NOT_FOUND');
  const r = await post('/api/v1/status', 'x', {});
  assertError(r, 405, 'E_HTTP_METHOD_NOT_ALLOWED');
  assert.equal(r.res.headers.get('allow'), 'GET');
});

test('meters and readings: list, one, readings page with fromSeq and limit', { timeout: 10_000 }, async () => {
  assert.equal((await get('/api/v1/meters', OP)).body.meters[0].meterId, 'meter-0001');
  assert.equal((await get('/api/v1/meters/meter-0001', OP)).body.lastSeq, '2');
  const page = await get('/api/v1/meters/meter-0001/readings?fromSeq=1&limit=1', OP);
  assert.deepEqual(page.body.readings.map((r: { seq: string }) => r.seq), ['1']);
  assert.equal(page.body.nextFromSeq, '2');
  const rest = await get('/api/v1/meters/meter-0001/readings?fromSeq=2', OP);
  assert.deepEqual(rest.body.readings.map((r: { seq: string }) => r.seq), ['2']);
  assert.equal(rest.body.nextFromSeq, null);
});

test('receipts: JSON view with cbor hex, and raw CBOR on Accept: application/cbor; both verify from genesis', { timeout: 10_000 }, async () => {
  const j = await get('/api/v1/meters/meter-0001/receipts/2', OP);
  assert.equal(j.status, 200);
  assert.equal(j.body.meterId, 'meter-0001');
  assert.equal(j.body.seq, '2');
  assert.equal(j.body.height, 1);
  assert.equal(j.body.index, 1);
  assert.equal(j.body.txHash, toHex(sha256(node.readingTxs[1]!)));
  const fromJson = decodeReceipt(fromHex(j.body.cbor));
  assert.equal(verifyReceipt(node.genesis, fromJson).height, 1);

  const c = await get('/api/v1/meters/meter-0001/receipts/2', { ...OP, accept: 'application/cbor' });
  assert.equal(c.status, 200);
  assert.equal(c.res.headers.get('content-type'), 'application/cbor');
  assert.ok(c.body instanceof Uint8Array);
  assert.equal(toHex(c.body), j.body.cbor);
  assert.equal(verifyReceipt(node.genesis, decodeReceipt(c.body)).signatureChecked, true);
});

test('POST /api/v1/tx: 401 without a token, 403 with a wrong one, 202 with the right one (CBOR and hex)', { timeout: 10_000 }, async () => {
  const tx = signTx('test-chain', Alg.EdDSA, randomSecretKey(Alg.EdDSA), { type: TxType.MeterRevoke, meterId: 'meter-0001', time: 1 }, 'operator-0');
  const before = node.submitted.length;
  const none = await post('/api/v1/tx', tx, { 'content-type': 'application/cbor' });
  assertError(none, 401, 'E_HTTP_UNAUTHORIZED');
  assert.match(none.res.headers.get('www-authenticate')!, /^Bearer/);
  assertError(await post('/api/v1/tx', tx, { 'content-type': 'application/cbor', authorization: 'Bearer wrong-token-wrong-token' }), 403, 'E_HTTP_FORBIDDEN');
  assertError(await post('/api/v1/tx', tx, { 'content-type': 'application/cbor', authorization: `Bearer ${TOKEN}x` }), 403, 'E_HTTP_FORBIDDEN');
  assert.equal(node.submitted.length, before, 'nothing reached the node');

  const ok = await post('/api/v1/tx', tx, { 'content-type': 'application/cbor', authorization: `Bearer ${TOKEN}` });
  assert.equal(ok.status, 202);
  assert.equal(ok.body.status, 'accepted');
  assert.equal(ok.body.txHash, toHex(sha256(tx)));
  const hex = await post('/api/v1/tx', toHex(tx), { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` });
  assert.equal(hex.status, 202);
  assert.deepEqual(node.submitted.slice(-2).map(toHex), [toHex(tx), toHex(tx)]);
});

test('POST /api/v1/tx: a refusal carries its reason code; bad bodies are 400/413/415', { timeout: 10_000 }, async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  node.nextSubmit = { status: 'rejected', txHash: new Uint8Array(32), code: 'E_TX_NOT_OPERATOR', message: 'not an operator' };
  try {
    const r = await post('/api/v1/tx', new Uint8Array([1, 2]), { ...auth, 'content-type': 'application/cbor' });
    assertError(r, 422, 'E_TX_NOT_OPERATOR', /^not an operator$/);
    assert.equal(r.body.status, 'rejected');
  } finally {
    node.nextSubmit = undefined;
  }
  assertError(await post('/api/v1/tx', 'zz-not-hex', { ...auth, 'content-type': 'text/plain' }), 400, 'E_HTTP_BAD_BODY');
  assertError(await post('/api/v1/tx', '{}', { ...auth, 'content-type': 'application/json' }), 415, 'E_HTTP_UNSUPPORTED_MEDIA_TYPE');
  assertError(await post('/api/v1/tx', new Uint8Array(64 * 1024 + 1), { ...auth, 'content-type': 'application/cbor' }), 413, 'E_HTTP_BODY_TOO_LARGE');
});

test('POST is 403 E_HTTP_ADMIN_DISABLED, saying how to enable it, when no admin token is configured', { timeout: 10_000 }, async () => {
  const off = await startWith(undefined);
  try {
    const r = await post('/api/v1/tx', new Uint8Array([1]), { 'content-type': 'application/cbor', authorization: `Bearer ${TOKEN}` }, off.url);
    assertError(r, 403, 'E_HTTP_ADMIN_DISABLED', /http\.adminToken/);
  } finally {
    await off.close();
  }
});

test('malformed percent-encoding in a path parameter is a 400 naming it, not a 500', { timeout: 10_000 }, async () => {
  assertError(await get('/api/v1/meters/%E0%A4%A'), 400, 'E_HTTP_BAD_PARAM', /^id:/);
});
