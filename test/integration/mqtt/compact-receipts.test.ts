/**
 * Compact receipts over real MQTT (mqtt.js) from a real gateway (docs/protocol.md §8.3.1,
 * §8.3.2): the compact receipt matches the reading and the block served over HTTP and is
 * under 200 bytes; a full one asked for on meters/<id>/receipts/get verifies offline with
 * the genesis; a meter gets only its own; a meter in mqtt.fullReceipts gets full ones pushed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Genesis, type ReceiptsTopicMessage, ReasonCode, decodeBlock, decodeReceipt, fromHex, headerHash, parseGenesis, sha256, toHex, txMeterId, verifyReceipt,
} from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { until } from '../../helpers/until.js';

const ADMIN = 'test-admin-token-compact';
const FULL = 'meter-0003';

describe('compact receipts on the receipts topic, full ones on request', { timeout: 180_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let genesis: Genesis;
  const meters = new Map<string, TestMeter>();
  /** One connection per meter for the whole file: a second one with its client id would take the session over. */
  const meter = async (id: string): Promise<TestMeter> => {
    let m = meters.get(id);
    if (!m) meters.set(id, (m = await TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id)))));
    return m;
  };
  const api = async (path: string): Promise<Response> => fetch(`${gw.httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  /** Publish reading `seq` and wait for its committed message. */
  const commit = async (m: TestMeter, seq: bigint): Promise<{ bytes: Uint8Array; msg: ReceiptsTopicMessage & { status: 'committed' }; payload: Uint8Array }> => {
    const bytes = m.sign(seq);
    const from = m.messages.length;
    await m.client.publishAsync(`meters/${m.meterId}/readings`, Buffer.from(bytes), { qos: 1 });
    await until(`${m.meterId} ${seq} committed`, () => m.messages.slice(from).some((x) => x.status === 'committed' && x.seq === seq), 20_000, 25);
    const i = m.messages.findIndex((x, k) => k >= from && x.status === 'committed' && x.seq === seq);
    return { bytes, msg: m.messages[i] as ReceiptsTopicMessage & { status: 'committed' }, payload: m.payloads[i]! };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-compact-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '3', '--meter-alg', 'mixed']);
    assert.equal(init.code, 0, init.stderr);
    const config = join(dir, 'test-config.json');
    writeFileSync(config, JSON.stringify({ ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN }, mqtt: { fullReceipts: [FULL] } }), { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', config]);
    gw.adminToken = ADMIN;
    await gw.start();
    genesis = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
  });
  after(async () => {
    await Promise.all([...meters.values()].map((m) => m.close().catch(() => undefined)));
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the compact receipt arrives, names the reading and the block the gateway serves, and is under 200 bytes', async () => {
    const m = await meter('meter-0001');
    const seq = BigInt(Date.now()) * 1000n; // 8-byte seq: the largest a meter's clock-based numbering gives
    const { bytes, msg, payload } = await commit(m, seq);
    assert.equal(msg.receipt, undefined, 'compact: no receipt inline');
    assert.ok(payload.length < 200, `compact receipt is ${payload.length} bytes`);
    assert.equal(payload[0], 0xa6, 'a map of 6 entries');
    assert.equal(toHex(msg.txHash), toHex(sha256(bytes)));
    // The block, as the gateway stores it: its header hashes to blockHash, its tx at index is the reading.
    const raw = await api(`/api/v1/blocks/${msg.height}/raw`);
    assert.equal(raw.status, 200);
    const block = decodeBlock(fromHex(((await raw.json()) as { block: string }).block));
    assert.equal(toHex(headerHash(block.header)), toHex(msg.blockHash));
    assert.equal(toHex(sha256(block.txs[msg.index]!)), toHex(msg.txHash));
    // And the full receipt over HTTP agrees.
    const r = await fetch(`${gw.httpUrl}/api/v1/tx/${toHex(msg.txHash)}/receipt`, { headers: { authorization: `Bearer ${ADMIN}`, accept: 'application/cbor' } });
    assert.equal(r.status, 200);
    const full = decodeReceipt(new Uint8Array(await r.arrayBuffer()));
    assert.equal(full.header.height, msg.height);
    assert.equal(full.index, msg.index);
    assert.equal(toHex(full.commit.blockHash), toHex(msg.blockHash));
  });

  test('a full receipt asked for by seq or by tx hash verifies offline with the genesis', async () => {
    const m = await meter('meter-0002');
    const seq = BigInt(Date.now()) * 1000n + 1n;
    const { msg } = await commit(m, seq);
    const bySeq = await m.fullReceipt(seq);
    const v = verifyReceipt(genesis, bySeq);
    assert.equal(txMeterId(v.tx.body), 'meter-0002');
    assert.equal(v.height, msg.height);
    assert.equal(toHex(v.tx.hash), toHex(msg.txHash));
    const byHash = await m.request({ txHash: msg.txHash });
    assert.ok(byHash.status === 'committed' && byHash.receipt && byHash.seq === seq, JSON.stringify(byHash.status === 'rejected' ? byHash.code : ''));
    assert.equal(verifyReceipt(genesis, byHash.receipt).height, msg.height);
    // Nothing committed under that seq: not found; a request that is not {1: seq} or {5: txHash}: malformed.
    const missing = await m.request({ seq: seq + 1000n });
    assert.ok(missing.status === 'rejected' && missing.code === ReasonCode.RECEIPT_NOT_FOUND && missing.seq === seq + 1000n);
    const from = m.messages.length;
    await m.client.publishAsync(`meters/${m.meterId}/receipts/get`, Buffer.from('seq please'), { qos: 1 });
    await until('malformed answered', () => m.messages.length > from, 10_000, 25);
    const bad = m.messages[from]!;
    assert.ok(bad.status === 'rejected' && bad.code === ReasonCode.RECEIPT_REQUEST_MALFORMED);
    assert.equal(m.client.connected, true);
  });

  test('a meter asking for another meter\'s receipt is refused E_RECEIPT_NOT_AUTHORIZED, and gets nothing of it', async () => {
    const a = await meter('meter-0001');
    const b = await meter('meter-0002');
    const seq = BigInt(Date.now()) * 1000n + 2n;
    const { msg } = await commit(b, seq);
    // On the other meter's request topic, by seq.
    const onTheirs = await a.request({ seq }, 'meter-0002');
    assert.ok(onTheirs.status === 'rejected' && onTheirs.code === ReasonCode.RECEIPT_NOT_AUTHORIZED, JSON.stringify(onTheirs.status));
    // On its own request topic, by the other meter's tx hash.
    const byHash = await a.request({ txHash: msg.txHash });
    assert.ok(byHash.status === 'rejected' && byHash.code === ReasonCode.RECEIPT_NOT_AUTHORIZED);
    assert.equal(a.messages.some((x) => x.status === 'committed' && x.receipt !== undefined && toHex(x.txHash) === toHex(msg.txHash)), false);
    assert.equal(a.client.connected, true);
    // meter-0002 was not told anything by meter-0001's requests (its own malformed request of the test before aside).
    assert.equal(b.messages.filter((x) => x.status === 'rejected' && x.code === ReasonCode.RECEIPT_NOT_AUTHORIZED).length, 0);
  });

  test('receipt requests are limited per meter: a burst of 25 gets E_READING_RATE_LIMITED beyond the first 10 (and 1 a second)', async () => {
    const m = await meter('meter-0001');
    const from = m.messages.length;
    const t0 = Date.now();
    const q = Buffer.from(fromHex('a10107')); // {1: 7}: nothing committed, answered E_RECEIPT_NOT_FOUND when let through
    await Promise.all(Array.from({ length: 25 }, () => m.client.publishAsync('meters/meter-0001/receipts/get', q, { qos: 1 })));
    await until('25 answers', () => m.messages.length - from >= 25, 15_000, 25);
    const codes = m.messages.slice(from).map((x) => (x.status === 'rejected' ? x.code : 'committed'));
    const limited = codes.filter((c) => c === ReasonCode.RATE_LIMITED).length;
    const answered = codes.filter((c) => c === ReasonCode.RECEIPT_NOT_FOUND).length;
    assert.equal(answered + limited, 25, codes.join(' '));
    // At most the burst of 10 (less what the tests before took) plus one a second since.
    assert.ok(answered >= 1 && answered <= 10 + Math.ceil((Date.now() - t0) / 1000), codes.join(' '));
    assert.equal(m.client.connected, true);
  });

  test('a meter in mqtt.fullReceipts gets full receipts pushed, which verify offline', async () => {
    const m = await meter(FULL);
    const seq = BigInt(Date.now()) * 1000n + 3n;
    const { bytes, msg, payload } = await commit(m, seq);
    assert.ok(msg.receipt, 'full receipt pushed');
    assert.ok(payload.length > 500, `full message is ${payload.length} bytes`);
    assert.deepEqual(msg.receipt.tx, bytes);
    const v = verifyReceipt(genesis, msg.receipt);
    assert.equal(txMeterId(v.tx.body), FULL);
    assert.equal(toHex(msg.blockHash), toHex(headerHash(msg.receipt.header)));
  });
});
