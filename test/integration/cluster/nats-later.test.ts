/**
 * Issue 18, gateways and NATS: two validators started while their NATS server is down
 * (and whose server URL carries the NATS password) come up anyway, take readings
 * durably up to the backlog, and join when NATS starts; the backlog then commits on
 * both. The password never appears in anything they or `testnet` print.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ReasonCode, parseGenesis } from '../../../protocols/index.js';
import { clusterMeterId, dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { sleep, until } from '../../helpers/until.js';

const SECRET = 'hunter2-Secret';

describe('gateways started before their NATS server', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-nats-later-'));
  let nats: NatsCluster | undefined;
  const gws: GatewayProcess[] = [];
  const meters: TestMeter[] = [];
  after(async () => {
    for (const m of meters) await m.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('start, accept up to the backlog, join when NATS comes; the URL\'s password is never printed', async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats'), auth: { user: 'gw', pass: SECRET }, stopped: true });
    const url = nats.urls[0]!.replace('nats://', `nats://gw:${SECRET}@`);
    const init = await cli(['testnet', '--validators', '2', '--meters', '1', '--out', join(root, 'net'), '--nats', url]);
    assert.equal(init.code, 0, init.stderr);
    assert.ok(!init.stdout.includes(SECRET) && !init.stderr.includes(SECRET), `testnet printed the password: ${init.stdout}`);
    assert.match(init.stdout, /nats:\s+nats:\/\/gw:\*\*\*@127\.0\.0\.1:/);
    const genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    for (let i = 0; i < 2; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.ledger = { blockIntervalMs: 200, ...(i === 0 ? { maxBacklog: 5 } : {}) };
      cfg.nats = { ...cfg.nats, reconnect: { minMs: 200, maxMs: 1000 } };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'info']));
    }
    const [g0, g1] = gws as [GatewayProcess, GatewayProcess];
    // MQTT and HTTP up (/readyz says 503 "no quorum" until NATS runs)
    await Promise.all([g0.start(30_000, { until: 'listening' }), g1.start(30_000, { until: 'listening' })]);
    type Status = { height: number; consensus: { nats: boolean | null } };
    const status = async (g: GatewayProcess) => (await g.json<Status>('/api/v1/status')).body;
    assert.equal((await status(g0)).consensus.nats, false);
    const notReady = await g0.json<{ reasons: string[] }>('/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.body.reasons.join('; '), /^no quorum: /);

    const meter = async (g: GatewayProcess, node: number) => {
      const id = clusterMeterId(node, 0);
      const m = await TestMeter.connect(g.mqttUrl, genesis, id, loadKeyFile(dataPaths(g.dataDir).meterKey(id)));
      meters.push(m);
      return m;
    };
    const [m0, m1] = [await meter(g0, 0), await meter(g1, 1)];
    for (let seq = 1n; seq <= 5n; seq++) await m0.publish(seq); // PUBACK: durably accepted
    for (let seq = 1n; seq <= 3n; seq++) await m1.publish(seq);
    // Beyond maxBacklog 5: E_GATEWAY_BUSY, no PUBACK, so mqtt.js sends it again after reconnecting.
    let sixthAcked = false;
    void m0.publish(6n).then(() => (sixthAcked = true), () => {});
    await until('g0 says busy', () => m0.messages.some((x) => x.status === 'rejected'), 10_000);
    assert.deepEqual(m0.messages.filter((x) => x.status === 'rejected').map((x) => (x as { code: string }).code), [ReasonCode.BUSY]);
    await sleep(1000);
    assert.equal(sixthAcked, false);
    assert.equal((await status(g0)).height, 0, 'nothing commits without the other validator');

    await nats.start(0);
    await until('both on NATS', async () => (await status(g0)).consensus.nats === true && (await status(g1)).consensus.nats === true, 30_000);
    const committedOn = async (g: GatewayProcess, meterId: string, seqs: number[]) => {
      for (const s of seqs) if ((await g.get(`/api/v1/meters/${meterId}/receipts/${s}`)).status !== 200) return false;
      return true;
    };
    const accepted0 = [1, 2, 3, 4, 5, 6];
    await until('the backlog commits on both', async () =>
      (await committedOn(g0, m0.meterId, accepted0)) && (await committedOn(g1, m0.meterId, accepted0)) &&
      (await committedOn(g0, m1.meterId, [1, 2, 3])) && (await committedOn(g1, m1.meterId, [1, 2, 3])), 60_000);
    await until('the meter has a receipt for each reading', () => m0.committedSeqs().size === 6, 20_000);
    assert.equal(sixthAcked, true);
    for (const g of gws) await until(`${g.httpUrl}/readyz 200 with NATS`, async () => (await fetch(`${g.httpUrl}/readyz`)).status === 200, 30_000);

    for (const g of gws) {
      assert.ok(!g.stderr.includes(SECRET), `${g.dataDir} printed the password`);
      const lines = g.stderr.split('\n').filter((l) => /NATS (not reachable|still unreachable)/.test(l));
      assert.ok(lines.length >= 1 && lines.length <= 3, `one warning, and at most one a minute after it: ${lines.length}`);
    }
  });
});
