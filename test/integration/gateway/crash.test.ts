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
import { GatewayProcess, cli, committedSeqs } from '../../helpers/gateway-process.js';
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

    const acked = new Map<string, bigint[]>(ids.map((id) => [id, []]));
    let loading = true;
    const loops = meters.map(async (m) => {
      let seq = 0n;
      const inflight = new Set<Promise<void>>();
      while (loading) {
        const s = ++seq;
        const p = m.publish(s).then(
          () => void acked.get(m.meterId)!.push(s),
          () => {}, // not acknowledged: nothing promised
        ).finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
      }
      await Promise.race([Promise.all(inflight), new Promise((r) => setTimeout(r, 30_000))]);
    });

    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 900)));
      await gw.kill9();
      await gw.start();
    }
    await new Promise((r) => setTimeout(r, 1000));
    loading = false;
    await Promise.all(loops);

    const total = [...acked.values()].reduce((n, l) => n + l.length, 0);
    assert.ok(total > 50, `load too small to mean anything (${total} acknowledged)`);
    // Every acknowledged reading gets committed: page through each meter's committed
    // readings via the read API until all acknowledged ones are there (or time is up).
    const deadline = Date.now() + 60_000;
    let missing: string[] = [];
    do {
      missing = [];
      for (const [id, seqs] of acked) {
        const have = await committedSeqs(gw, id);
        for (const s of seqs) if (!have.has(s.toString())) missing.push(`${id}/${s}`);
      }
      if (missing.length) await new Promise((r) => setTimeout(r, 500));
    } while (missing.length && Date.now() < deadline);
    // and a sample of them has a receipt
    for (const [id, seqs] of acked) {
      const s = seqs[Math.floor(Math.random() * seqs.length)];
      if (s !== undefined) assert.equal((await fetch(`${gw.httpUrl}/api/v1/meters/${id}/receipts/${s}`)).status, 200);
    }
    assert.deepEqual(missing, [], `acknowledged but not committed: ${missing.slice(0, 10).join(', ')}`);
    await Promise.all(meters.map((m) => m.close()));
    assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));
    const v = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stderr + v.stdout);
  });
});
