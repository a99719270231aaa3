/**
 * Nothing acknowledged is lost: real MQTT meters publish at QoS 1 while the gateway is
 * killed with SIGKILL at random moments and restarted. Every (meter, seq) that got a
 * PUBACK must end up committed with a receipt, and the store must verify.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseGenesis } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { startAckedLoad, uncommitted } from '../../helpers/acked-load.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';

const KILLS = 3;
const METERS = 4;
const IN_FLIGHT = 8;

describe('kill -9 under QoS 1 load', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-crash-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(`${KILLS} kills: every acknowledged reading is committed, the chain verifies`, async () => {
    assert.equal((await cli(['init', '--data-dir', dir, '--meters', String(METERS)])).code, 0);
    const cfg = join(dir, 'crash-config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 250, meterRatePerSecond: 0 } })); // a flood on purpose
    const gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start();
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const ids = genesis.meters.map((m) => m.id);
    const meters = await Promise.all(ids.map((id) => TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id)))));

    const load = startAckedLoad(meters, IN_FLIGHT);
    const { acked } = load;

    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 900)));
      await gw.kill9();
      await gw.start();
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop(30_000);

    const total = load.total();
    assert.ok(total > 50, `load too small to mean anything (${total} acknowledged)`);
    // Every acknowledged reading gets committed: page through each meter's committed
    // readings via the read API until all acknowledged ones are there (or time is up).
    const missing = await uncommitted(gw, acked);
    // and a sample of them has a receipt
    for (const [id, seqs] of acked) {
      const s = seqs[Math.floor(Math.random() * seqs.length)];
      if (s !== undefined) assert.equal((await gw.get(`/api/v1/meters/${id}/receipts/${s}`)).status, 200);
    }
    assert.deepEqual(missing, [], `acknowledged but not committed: ${missing.slice(0, 10).join(', ')}`);
    await Promise.all(meters.map((m) => m.close()));
    assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));
    const v = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stderr + v.stdout);
  });
});
