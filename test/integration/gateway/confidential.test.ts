/**
 * Nothing in clear (docs/protocol.md §11, issue 14): a validator and an observer, real
 * gateway processes over a real nats-server. An operator registers a confidential meter
 * (label 16); the meter, over real MQTT to the observer, publishes its period key (type 5)
 * and sealed readings (label 12), each acknowledged (PUBACK) and committed (its message on
 * the receipts topic). Then the committed blocks, a capture of all of the chain's NATS
 * subjects and a copy of the observer's store are searched for the readings' known energy
 * values, as CBOR integers and as decimal text: none is there. The same search finds the
 * value of a clear reading sent beside them, so it is a search that can fail. The read
 * API returns the sealed readings sealed, and a recipient opens them with its key.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import {
  Alg, type Genesis, Kem, TxType, decodeSealedReadingTx, decryptReading, encodeCbor, fromHex, kemPublicKey, openPeriodKey,
  parseGenesis, readingsTopic, sealPeriodKey, sealReading, signPeriodKey, signSealedReading, recipientFromSecretKey, signTx, periodKeySchedule, toHex, sha256,
} from '../../../protocols/index.js';
import { clusterMeterId, dataPaths } from '../../../ledger-node/devchain.js';
import { generateKeyPair, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { saveRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { until } from '../../helpers/until.js';

const rnd = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** Every way a value could sit in bytes we store or send: CBOR (what signed payloads use) and decimal text (JSON, logs). */
function needles(v: number): Buffer[] {
  return [Buffer.from(encodeCbor(v)), Buffer.from(String(v))];
}
const holds = (hay: Buffer, v: number): boolean => needles(v).some((n) => hay.includes(n));

function filesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) parts.push(filesUnder(p));
    else parts.push(readFileSync(p));
  }
  return Buffer.concat(parts);
}

describe('confidential meter: nothing in clear in blocks, gossip or an observer\'s store', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-conf-'));
  let nats: NatsCluster;
  let recorder: NatsConnection;
  let genesis: Genesis;
  const gws: GatewayProcess[] = [];
  const captured: Buffer[] = [];
  const meters: TestMeter[] = [];

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
    const init = await cli(['testnet', '--validators', '1', '--observers', '1', '--meters', '1', '--out', join(root, 'net'), '--nats', nats.urls[0]!]);
    assert.equal(init.code, 0, init.stderr);
    genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    for (let i = 0; i < 2; i++) {
      const dir = join(root, 'net', `node${i}`);
      const f = join(dir, 'config.json');
      const cfg = JSON.parse(readFileSync(f, 'utf8'));
      cfg.ledger = { blockIntervalMs: 200 };
      writeFileSync(f, JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    recorder = await connect({ servers: nats.urls[0]! });
    recorder.subscribe(`ml.${genesis.chainId.replaceAll('.', '_')}.>`, { callback: (_e, msg) => void captured.push(Buffer.from(msg.data)) });
    await recorder.flush();
    await Promise.all(gws.map((g) => g.start(60_000)));
  });

  after(async () => {
    for (const m of meters) await m.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await recorder?.close().catch(() => {});
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('period key and sealed readings over MQTT are committed; their values are nowhere in clear', async () => {
    const [validator, observer] = gws as [GatewayProcess, GatewayProcess];
    const chainId = genesis.chainId;
    const id = 'meter-conf-it';
    const meterKey = generateKeyPair(Alg.EdDSA);
    const secrets = { owner: rnd(32), biller: rnd(32) };
    const recipients = [
      { id: 'biller-1/enc-1', kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, secrets.biller) },
      { id: 'john/enc-1', kem: Kem.P256, publicKey: kemPublicKey(Kem.P256, secrets.owner) },
    ];
    const op = loadKeyFile(dataPaths(validator.dataDir).operatorKey);
    const reg = signTx(chainId, op.alg, op.secretKey, { type: TxType.MeterRegister, meterId: id, time: Date.now(), alg: meterKey.alg, publicKey: meterKey.publicKey, owner: 'john', recipients }, genesis.operators[0]!.id);
    const post = await fetch(`${validator.httpUrl}/api/v1/tx`, { method: 'POST', headers: { ...validator.operator, 'content-type': 'application/cbor' }, body: Buffer.from(reg) });
    assert.equal(post.status, 202, await post.text());
    await until('the observer knows the confidential meter', async () => (await observer.json(`/api/v1/meters/${id}`)).status === 200, 60_000, 100);

    const m = await TestMeter.connect(observer.mqttUrl, genesis, id, meterKey);
    meters.push(m);
    const periodKey = rnd(32);
    const pkBody = sealPeriodKey({ chainId, meterId: id, period: '2026-12', time: Date.now(), periodKey, recipients, random: rnd });
    const pkTx = signPeriodKey(chainId, meterKey.alg, meterKey.secretKey, pkBody);
    await m.client.publishAsync(readingsTopic(id), Buffer.from(pkTx), { qos: 1 });
    // The readings follow at once: relayed right behind their key, the validator holds
    // them until the key is in (docs/protocol.md §11.6 "Order of arrival").

    // Values unlike anything else on the chain: 7-digit registers, a 4-digit power.
    const values = Array.from({ length: 5 }, (_, i) => ({ importWh: 7_340_123 + i * 1_117, exportWh: 2_210_457 + i * 313, powerW: 4_321 + i * 7 }));
    const schedule = periodKeySchedule(periodKey, id, '2026-12');
    for (const [i, v] of values.entries()) {
      const body = sealReading(chainId, schedule, { type: TxType.Reading, meterId: id, seq: BigInt(i + 1), time: Date.now(), ...v });
      // publishAsync resolves on PUBACK: durable on the observer.
      await m.client.publishAsync(readingsTopic(id), Buffer.from(signSealedReading(chainId, meterKey.alg, meterKey.secretKey, body)), { qos: 1 });
    }
    await until('every sealed reading committed (receipts topic)', () => m.committedSeqs().size === values.length, 90_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}: messages ${JSON.stringify(m.messages, (_k, x) => (typeof x === 'bigint' ? String(x) : x instanceof Uint8Array ? '…' : x))}; validator: ${validator.stderr.slice(-3000)}; observer: ${observer.stderr.slice(-3000)}`);
    });
    assert.equal(m.messages.filter((x) => x.status === 'rejected').length, 0, JSON.stringify(m.messages.filter((x) => x.status === 'rejected')));

    // A clear reading beside them, from the observer's own clear meter: the control.
    const clearId = clusterMeterId(1, 0);
    const c = await TestMeter.connect(observer.mqttUrl, genesis, clearId, loadKeyFile(dataPaths(observer.dataDir).meterKey(clearId)));
    meters.push(c);
    const control = 6_543_217;
    await c.publish(1n, { importWh: control });
    await until('the clear reading committed', () => c.committedSeqs().size === 1, 60_000, 100);

    // The blocks, as committed (raw CBOR of the observer's store).
    const height = (await observer.json<{ height: number }>('/api/v1/status')).body.height;
    const blocks: Buffer[] = [];
    for (let h = 1; h <= height; h++) {
      const r = await observer.json<{ block: string }>(`/api/v1/blocks/${h}/raw`);
      assert.equal(r.status, 200);
      blocks.push(Buffer.from(r.body.block, 'hex'));
    }
    const blockBytes = Buffer.concat(blocks);
    await recorder.flush();
    const gossip = Buffer.concat(captured);

    // The read API: sealed, to anyone; a recipient opens each with its own key.
    const api = await observer.json<{ readings: { seq: string; importWh?: number; sealed?: string }[] }>(`/api/v1/meters/${id}/readings?fromSeq=1&limit=100`);
    assert.equal(api.status, 200);
    assert.equal(api.body.readings.length, values.length);
    assert.ok(api.body.readings.every((r) => r.importWh === undefined && typeof r.sealed === 'string'), 'returned sealed');
    const opened = await openPeriodKey(chainId, pkBody, 'biller-1/enc-1', recipientFromSecretKey(Kem.X25519, secrets.biller));
    for (const r of api.body.readings) {
      const got = decryptReading(chainId, opened, decodeSealedReadingTx(fromHex(r.sealed!)).body);
      const want = values[Number(r.seq) - 1]!;
      assert.deepEqual({ importWh: got.importWh, exportWh: got.exportWh, powerW: got.powerW }, want, `seq ${r.seq} opens to its values`);
    }
    // Hex fields are searched as the bytes they encode (a 4-digit value may occur in hex text by chance).
    const apiText = Buffer.concat([
      Buffer.from(JSON.stringify(api.body.readings.map(({ sealed: _s, txHash: _h, ...rest }: { sealed?: string; txHash?: string }) => rest))),
      ...api.body.readings.map((r) => Buffer.from(r.sealed!, 'hex')),
    ]);

    // `meterledger reading decrypt` with the owner's key file, on what the API returned.
    const keyDir = join(root, 'owner-keys');
    saveRecipientKeyFile(join(keyDir, 'john.key'), 'john/enc-1', Kem.P256, secrets.owner);
    writeFileSync(join(root, 'readings.json'), JSON.stringify(api.body));
    writeFileSync(join(root, 'period-key.hex'), toHex(signPeriodKey(chainId, meterKey.alg, meterKey.secretKey, pkBody)));
    const dec = await cli(['reading', 'decrypt', join(root, 'readings.json'), '--key', join(keyDir, 'john.key'), '--period-key', join(root, 'period-key.hex'), '--data-dir', observer.dataDir]);
    assert.equal(dec.code, 0, dec.stderr);
    const lines = dec.stdout.trim().split('\n').map((l) => JSON.parse(l) as { importWh: number; exportWh: number; powerW: number });
    assert.deepEqual(lines.map(({ importWh, exportWh, powerW }) => ({ importWh, exportWh, powerW })), values, 'the CLI opens every reading to its values');

    await observer.stop();
    const store = filesUnder(dataPaths(observer.dataDir).store);
    const wal = filesUnder(dataPaths(observer.dataDir).wal);

    const where = { blocks: blockBytes, gossip, store: Buffer.concat([store, wal]), api: apiText };
    for (const [name, hay] of Object.entries(where)) {
      assert.ok(hay.length > 0, `${name}: something to search`);
      for (const v of values) {
        for (const [field, x] of Object.entries(v)) assert.equal(holds(hay, x), false, `${name} holds ${field} ${x} of a sealed reading`);
      }
    }
    assert.ok(holds(blockBytes, control), 'the control: the clear value is found in the blocks');
    assert.ok(holds(gossip, control), 'the control: the clear value is found in the gossip');
    assert.ok(holds(store, control), 'the control: the clear value is found in the observer\'s store');
    console.log(`# searched ${blockBytes.length} B of blocks, ${gossip.length} B of gossip (${captured.length} messages), ${store.length + wal.length} B of the observer's store and write-ahead for ${values.length * 3} values`);
  });
});

