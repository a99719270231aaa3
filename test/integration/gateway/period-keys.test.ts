/**
 * A meter's period keys over HTTP (docs/http-api.md, GET /api/v1/meters/:id/period-keys):
 * `init --confidential --billing`, a real gateway process, `meterledger simulate` over real MQTT.
 * The route lists the meter's period key transactions with receipts that verify against
 * the genesis, one by (meter, keyId) through the store's index, and `reading decrypt`
 * fetches them from the gateway (METERLEDGER_URL and the admin token) instead of a file.
 * Then the store is put back to layout 3 (no period-key subjects) and opens with them rebuilt.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { PERIOD_KEY_TX_TYPE, decodeCbor, decodeReceipt, encodeCbor, fromHex, parseGenesis, txSubject, verifyReceipt } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { Keys } from '../../../ledger-node/store/keys.js';
import { LevelStore } from '../../../ledger-node/store/level.js';
import { GatewayProcess, TEST_ADMIN_TOKEN, cli } from '../../helpers/gateway-process.js';
import { startConfidentialGateway } from '../../helpers/confidential-gateway.js';
import { ownerSession } from '../../helpers/owner-session.js';

interface PeriodKeyJson { period: string; keyId: string; recipients: string[]; typeName: string; cbor: string; tx: string }

describe('period keys over HTTP, for reading decrypt and the portal', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-pk-'));
  let gw: GatewayProcess;

  before(async () => {
    // --billing: one owner account per meter (owner-0001, owner-0002), each a recipient of its meter only.
    gw = await startConfidentialGateway(dir, 10);
  });

  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the route lists the meter\'s period keys with receipts that verify; keyId picks one; bad keyId is 400', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const r = await gw.json<{ meterId: string; periodKeys: PeriodKeyJson[] }>('/api/v1/meters/meter-0001/period-keys');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.periodKeys.length >= 1, 'meter-0001 published a period key');
    for (const k of r.body.periodKeys) {
      const v = verifyReceipt(genesis, decodeReceipt(fromHex(k.cbor)));
      assert.equal(v.tx.body.type, PERIOD_KEY_TX_TYPE);
      assert.equal(k.typeName, 'period key');
      assert.deepEqual(k.recipients, genesis.meters.find((m) => m.id === 'meter-0001')!.recipients!.map((x) => x.id));
    }
    const first = r.body.periodKeys[0]!;
    const one = await gw.json<{ periodKeys: PeriodKeyJson[] }>(`/api/v1/meters/meter-0001/period-keys?keyId=${first.keyId}`);
    assert.deepEqual(one.body.periodKeys.map((k) => k.tx), [first.tx]);
    const none = await gw.json<{ periodKeys: PeriodKeyJson[] }>(`/api/v1/meters/meter-0001/period-keys?keyId=${'0'.repeat(32)}`);
    assert.deepEqual(none.body.periodKeys, []);
    const bad = await gw.json<{ error: { code: string } }>('/api/v1/meters/meter-0001/period-keys?keyId=xyz');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'E_HTTP_BAD_PARAM');
    const other = await gw.json<{ periodKeys: PeriodKeyJson[] }>('/api/v1/meters/meter-0002/period-keys');
    assert.ok(other.body.periodKeys.every((k) => !r.body.periodKeys.some((x) => x.keyId === k.keyId)), 'each meter lists only its own');
    assert.equal((await fetch(`${gw.httpUrl}/api/v1/meters/meter-0001/period-keys`)).status, 401, 'no token, no period keys');
  });

  test('reading decrypt fetches the period keys from the gateway; another owner\'s key is refused', async () => {
    const readings = await gw.json('/api/v1/meters/meter-0001/readings?fromSeq=0&limit=1000');
    const file = join(dir, 'readings.json');
    writeFileSync(file, JSON.stringify(readings.body));
    const env = { ...process.env, METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const dec = await cli(['reading', 'decrypt', file, '--key', dataPaths(dir).recipientKey('owner-0001'), '--data-dir', dir], { env });
    assert.equal(dec.code, 0, dec.stderr);
    const lines = dec.stdout.trim().split('\n').map((l) => JSON.parse(l) as { meterId: string; seq: string; importWh: number });
    assert.equal(lines.length, (readings.body as { readings: unknown[] }).readings.length);
    assert.ok(lines.length >= 5 && lines.every((l) => l.meterId === 'meter-0001' && Number.isInteger(l.importWh)), dec.stdout);
    const other = await cli(['reading', 'decrypt', file, '--key', dataPaths(dir).recipientKey('owner-0002'), '--data-dir', dir], { env });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /E_CONF_NOT_RECIPIENT/);
    // The owner's own session does it too; another owner's session is refused.
    const session = await ownerSession(gw.httpUrl, 'owner-0001', dataPaths(dir).accountKey('owner-0001'));
    const bySession = await cli(['reading', 'decrypt', file, '--key', dataPaths(dir).recipientKey('owner-0001'), '--data-dir', dir], { env: { ...process.env, METERLEDGER_URL: gw.httpUrl, METERLEDGER_SESSION: session } });
    assert.equal(bySession.code, 0, bySession.stderr);
    assert.equal(bySession.stdout, dec.stdout);
    const stranger = await ownerSession(gw.httpUrl, 'owner-0002', dataPaths(dir).accountKey('owner-0002'));
    const refused = await fetch(`${gw.httpUrl}/api/v1/meters/meter-0001/period-keys`, { headers: { authorization: `Bearer ${stranger}` } });
    assert.equal(refused.status, 403, 'another owner\'s session reads no period keys of this meter');
    const noToken = await cli(['reading', 'decrypt', file, '--key', dataPaths(dir).recipientKey('owner-0001'), '--data-dir', dir], { env: { ...process.env, METERLEDGER_URL: gw.httpUrl } });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /E_HTTP_UNAUTHORIZED/);
  });

  test('a layout 3 store (no period-key subjects) opens with them indexed', async () => {
    const keys = (await gw.json<{ periodKeys: PeriodKeyJson[] }>('/api/v1/meters/meter-0001/period-keys')).body.periodKeys.map((k) => k.keyId);
    await gw.stop();
    const path = dataPaths(dir).store;
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    let removed = 0;
    for await (const k of db.keys(Keys.range('T'))) {
      if (Buffer.from(k).subarray(1).toString('latin1').startsWith('period-key/')) {
        await db.del(k);
        removed++;
      }
    }
    await db.put(Keys.format, encodeCbor(3));
    await db.close();
    assert.ok(removed >= keys.length, `removed ${removed} period-key entries`);
    const store = await LevelStore.open(path);
    try {
      for (const k of keys) {
        const found = [];
        for await (const p of store.txsAbout(txSubject.periodKey('meter-0001', k))) found.push(p);
        assert.equal(found.length, 1, `period key ${k} indexed again`);
      }
    } finally {
      await store.close();
    }
    const db2 = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db2.open();
    try {
      assert.equal(decodeCbor((await db2.get(Keys.format))!), 5);
    } finally {
      await db2.close();
    }
  });
});
