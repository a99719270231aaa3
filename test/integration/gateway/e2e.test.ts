/**
 * One real gateway process end to end: init, start, real MQTT clients (mqtt.js through
 * `simulate`, and mosquitto_pub / mosquitto_sub), HTTP API, receipts checked offline,
 * graceful stop, restart, and `verify` over the store and over HTTP.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { ReasonCode, TxType, decodeReceipt, decodeReceiptsTopicMessage, sha256, toHex, signTx, encodeCoseSign1, encodeProtectedHeader, encodeTxBody, parseGenesis, readingsTopic, receiptsTopic, verifyReceipt, txMeterId } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { Keys } from '../../../ledger-node/store/keys.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { until } from '../../helpers/until.js';

const run = promisify(execFile);

describe('single gateway, end to end over real MQTT', { timeout: 240_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-e2e-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '6', '--meter-alg', 'mixed']);
    assert.equal(init.code, 0, init.stderr);
    gw = await GatewayProcess.create(dir, ['--config', writeConfig(dir)]);
    gw.adminToken = 'test-admin-token'; // what writeConfig sets
    await gw.start();
  });
  after(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(d: string): string {
    const f = join(d, 'test-config.json');
    writeFileSync(f, JSON.stringify({ ledger: { blockIntervalMs: 200 }, http: { adminToken: 'test-admin-token' } }), { mode: 0o600 }); // holds a secret: private
    return f;
  }

  test('simulate: every acknowledged reading gets a receipt that verifies', async () => {
    const r = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '20', '--json'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.acknowledged, 6 * 20);
    assert.equal(summary.receipted, summary.acknowledged);
    assert.equal(summary.rejected, 0);
    assert.equal(summary.invalid_receipts, 0);
    // Compact receipts on the topic; one full receipt per meter asked for over MQTT and verified (docs/protocol.md §8.3.2).
    assert.equal(summary.full_receipts_verified, 6);
    assert.ok(summary.p50_ms > 0 && summary.p99_ms >= summary.p50_ms);
  });

  test('mosquitto_pub acts as a meter with `meter token` and `meter sign`; mosquitto_sub gets the receipt', async () => {
    const meter = 'meter-0003';
    const tok = await cli(['meter', 'token', '--data-dir', dir, '--meter', meter, '--client-id', `${meter}/mosq-pub`]);
    assert.equal(tok.code, 0, tok.stderr);
    const lines = tok.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    const username = lines[0]!.replace(/^username: /, '');
    const password = lines[1]!.replace(/^password: /, '');
    assert.equal(username, meter);
    const subTok = await cli(['meter', 'token', '--data-dir', dir, '--meter', meter, '--client-id', `${meter}/mosq-sub`]);
    const subPw = subTok.stdout.trim().split('\n')[1]!.replace(/^password: /, '');
    const file = join(dir, 'reading.cbor');
    const seq = String(BigInt(Date.now()) * 1000n); // above anything simulate used
    const signed = await cli(['meter', 'sign', '--data-dir', dir, '--meter', meter, '--seq', seq, '--wh', '4242', '--out', file]);
    assert.equal(signed.code, 0, signed.stderr);
    const port = String(gw.mqttPort);
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-i', `${meter}/mosq-sub`, '-u', meter, '-P', subPw,
      '-t', receiptsTopic(meter), '-q', '1', '-C', '1', '-W', '30', '-N'], { encoding: 'buffer', maxBuffer: 1 << 20 });
    await new Promise((r) => setTimeout(r, 500)); // let the subscription land
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-i', `${meter}/mosq-pub`, '-u', username, '-P', password,
      '-t', `meters/${meter}/readings`, '-q', '1', '-f', file]);
    const { stdout } = await sub;
    const msg = decodeReceiptsTopicMessage(new Uint8Array(stdout as unknown as Buffer));
    assert.equal(msg.status, 'committed');
    const genesis = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
    // Compact by default (docs/protocol.md §8.3.1): the reading's seq and hash; the full receipt over HTTP verifies.
    assert.ok(msg.status === 'committed' && msg.receipt === undefined && msg.seq === BigInt(seq));
    if (msg.status !== 'committed') return;
    assert.equal(toHex(msg.txHash), toHex(sha256(readFileSync(file))));
    const full = await fetch(`${gw.httpUrl}/api/v1/tx/${toHex(msg.txHash)}/receipt`, { headers: { authorization: 'Bearer test-admin-token', accept: 'application/cbor' } });
    assert.equal(full.status, 200);
    assert.equal(txMeterId(verifyReceipt(genesis, decodeReceipt(new Uint8Array(await full.arrayBuffer()))).tx.body), meter);
  });

  test('a meter may not publish as another meter, nor read its receipts', async () => {
    const tok = await cli(['meter', 'token', '--data-dir', dir, '--meter', 'meter-0001', '--client-id', 'meter-0001/intruder']);
    const pw = tok.stdout.trim().split('\n')[1]!.replace(/^password: /, '');
    const port = String(gw.mqttPort);
    // subscribing to another meter's receipts: SUBACK 0x80, mosquitto_sub says so and exits
    const sub = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-i', 'meter-0001/intruder', '-u', 'meter-0001', '-P', pw,
      '-t', receiptsTopic('meter-0002'), '-q', '1', '-C', '1', '-W', '5']).then((r) => r, (e: { stderr: string; code: number }) => e);
    assert.match(String((sub as { stderr: string }).stderr), /denied|refused|failure|0x80|128/i);
    // a wrong password is refused at CONNECT
    const bad = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-i', 'x', '-u', 'meter-0001', '-P', 'ml1.0.00',
      '-t', 'meters/meter-0001/readings', '-q', '1', '-m', 'x']).then(() => 0, (e: { code: number }) => e.code);
    assert.notEqual(bad, 0);
  });

  test('unsigned, tampered, replayed and stale readings are refused over MQTT with their codes', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
    const id = 'meter-0005';
    const m = await TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id)));
    try {
      const seq = BigInt(Date.now()) * 1000n + 7n;
      await m.publish(seq); // a good one first
      const send = (bytes: Uint8Array) => m.client.publishAsync(readingsTopic(id), Buffer.from(bytes), { qos: 1 });
      const body = { type: TxType.Reading, meterId: id, seq: seq + 1n, time: Date.now(), importWh: 1 } as const;
      await send(encodeCoseSign1(encodeProtectedHeader(-8), encodeTxBody(body), new Uint8Array(64))); // unsigned: zero signature
      // A bit of the signature (the message's last bytes): a byte at a fixed place inside the
      // payload landed in `time` or `importWh` depending on their lengths (importWh follows
      // the seq), so it was refused TIME_SKEW as often as BAD_SIGNATURE.
      const tampered = m.sign(seq + 2n);
      tampered[tampered.length - 1] ^= 0x01;
      await send(tampered);
      await m.publish(seq); // replay of the first
      await send(Uint8Array.from([0xd2, 0x84, 0x40])); // truncated COSE
      // Dated 2^53-1 ms: a valid uint beyond any Date; acknowledged and refused, the session kept.
      const key = loadKeyFile(dataPaths(dir).meterKey(id));
      await send(signTx(genesis.chainId, key.alg, key.secretKey, { ...body, seq: seq + 3n, time: Number.MAX_SAFE_INTEGER }));
      assert.equal(m.client.connected, true);
      const expected = [ReasonCode.BAD_SIGNATURE, ReasonCode.SEQ_REPLAY, ReasonCode.MALFORMED, ReasonCode.TIME_SKEW];
      const deadline = Date.now() + 15_000;
      const codes = () => m.messages.filter((x) => x.status === 'rejected').map((x) => (x.status === 'rejected' ? x.code : ''));
      while (Date.now() < deadline && !(expected.every((c) => codes().includes(c)) && m.committedSeqs().has(seq))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of expected) assert.ok(codes().includes(c), `${c} not seen in ${codes().join(', ')}`);
      assert.equal(codes().filter((c) => c === ReasonCode.BAD_SIGNATURE || c === ReasonCode.MALFORMED).length >= 3, true, 'unsigned and tampered both refused');
      assert.ok(m.committedSeqs().has(seq), 'the good reading was committed once');
    } finally {
      await m.close();
    }
  });

  test('a retransmission of a committed reading (its PUBACK lost) is acknowledged and its committed message published again; over HTTP too', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
    const id = 'meter-0006';
    const m = await TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id)));
    try {
      const seq = BigInt(Date.now()) * 1000n + 11n;
      const bytes = m.sign(seq);
      const committed = () => m.messages.filter((x) => x.status === 'committed' && x.seq === seq);
      await m.client.publishAsync(readingsTopic(id), Buffer.from(bytes), { qos: 1 });
      await until('its committed message', () => committed().length === 1, 15_000, 50);
      await m.client.publishAsync(readingsTopic(id), Buffer.from(bytes), { qos: 1 }); // resolves on PUBACK
      await until('the committed message again', () => committed().length === 2, 15_000, 50);
      const post = await fetch(`${gw.httpUrl}/api/v1/tx`, {
        method: 'POST', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/cbor' }, body: Buffer.from(bytes),
      });
      assert.equal(post.status, 202, await post.text());
      await until('and once more after the HTTP submission', () => committed().length === 3, 15_000, 50);
      for (const c of committed()) assert.ok(c.status === 'committed' && c.receipt === undefined && toHex(c.txHash) === toHex(sha256(bytes)), 'compact, of these bytes');
      assert.equal(txMeterId(verifyReceipt(genesis, (await m.fullReceipt(seq))).tx.body), id);
      assert.equal(m.messages.filter((x) => x.status === 'rejected').length, 0, 'never refused as a replay');
    } finally {
      await m.close();
    }
  });

  test('HTTP: status, readiness, metrics and receipts; receipt verify works offline', async () => {
    const st = await gw.json<{ chainId: string; height: number; headHash: string }>('/api/v1/status');
    assert.equal(st.status, 200);
    assert.ok(st.body.height >= 1);
    assert.match(st.body.headHash, /^[0-9a-f]{64}$/);
    assert.equal((await fetch(`${gw.httpUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${gw.httpUrl}/readyz`)).status, 200);
    const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text();
    const accepted = /^meterledger_readings_accepted_total(?:\{[^}]*\})? (\d+)/m.exec(metrics);
    assert.ok(accepted && Number(accepted[1]) >= 120, 'accepted counter counts the simulated readings');
    const rs = await gw.json<{ seq: string }[] | { readings: { seq: string }[] }>('/api/v1/meters/meter-0001/readings?limit=5');
    assert.equal(rs.status, 200);
    const list = Array.isArray(rs.body) ? rs.body : rs.body.readings;
    assert.ok(list.length > 0);
    const r = await gw.get(`/api/v1/meters/meter-0001/receipts/${list[0]!.seq}`, { accept: 'application/cbor' });
    assert.equal(r.status, 200);
    const file = join(dir, 'receipt.cbor');
    writeFileSync(file, new Uint8Array(await r.arrayBuffer()));
    const v = await cli(['receipt', 'verify', file, '--genesis', join(dir, 'genesis.json')]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const raw = readFileSync(file);
    raw[raw.length - 3] ^= 0x01;
    writeFileSync(file, raw);
    const bad = await cli(['receipt', 'verify', file, '--genesis', join(dir, 'genesis.json')]);
    assert.notEqual(bad.code, 0, 'a tampered receipt must fail');
    assert.equal((await gw.get(`/api/v1/meters/meter-0001/receipts/999999999999999`)).status, 404);
  });

  test('verify --http audits the running gateway (raw blocks need the admin token)', async () => {
    const anonymous = await cli(['verify', '--http', gw.httpUrl, '--genesis', join(dir, 'genesis.json')], { timeoutMs: 60_000, clean: true });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr + anonymous.stdout, /E_HTTP_UNAUTHORIZED/);
    const r = await cli(['verify', '--http', gw.httpUrl, '--genesis', join(dir, 'genesis.json')], { timeoutMs: 60_000, env: { METERLEDGER_HTTP_ADMIN_TOKEN: 'test-admin-token' } });
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  test('graceful stop, then restart: same head, verify passes, readings continue', async () => {
    const before = (await gw.json<{ height: number; headHash: string }>('/api/v1/status')).body;
    assert.equal(await gw.stop(), 0, gw.stderr);
    const v = await cli(['verify', '--data-dir', dir], { timeoutMs: 60_000 });
    assert.equal(v.code, 0, v.stderr + v.stdout);
    await gw.start();
    const after = (await gw.json<{ height: number; headHash: string }>('/api/v1/status')).body;
    assert.ok(after.height >= before.height);
    const r = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--meters', '2', '--readings', '5', '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });

  test('verify names the height of a block altered on disk', async () => {
    assert.equal(await gw.stop(), 0);
    const copy = mkdtempSync(join(tmpdir(), 'meterledger-e2e-tamper-'));
    try {
      cpSync(dir, copy, { recursive: true });
      const db = new ClassicLevel<Uint8Array, Uint8Array>(join(copy, 'store'), { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      const b = (await db.get(Keys.block(2)))!;
      b[b.length - 10] ^= 0x04; // one bit of one stored reading
      await db.put(Keys.block(2), b);
      await db.close();
      const v = await cli(['verify', '--data-dir', copy], { timeoutMs: 60_000 });
      assert.equal(v.code, 1);
      assert.match(v.stdout + v.stderr, /FAILED at height 2: /);
    } finally {
      rmSync(copy, { recursive: true, force: true });
      await gw.start();
    }
  });
});

describe('start-up refuses bad configuration with the field named', { timeout: 30_000 }, () => {
  test('an out-of-range port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meterledger-cfg-'));
    try {
      const r = await cli(['start', '--data-dir', dir, '--mqtt-port', '99999'], { timeoutMs: 20_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /mqtt\.port/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
