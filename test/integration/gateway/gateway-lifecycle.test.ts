/**
 * startGateway end to end on loopback (real LevelDB, aedes, HTTP): a fresh data dir gets a
 * dev chain, the gateway becomes ready, simulated meters get a verified receipt for every
 * acknowledged reading, and close() stops MQTT, the node and HTTP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/gateway.js';
import type { GatewayLogger } from '../../../gateway/logger.js';
import { runSimulation } from '../../../gateway/sim/simulator.js';

const quiet: GatewayLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, flush() {} };

test('a fresh data dir: dev chain, ready, every acknowledged reading receipted, clean close', { timeout: 60_000 }, async (t) => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'ml-gw-')), 'data');
  t.after(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
  const config = loadConfig({
    flags: { 'data-dir': dataDir, 'mqtt-port': '0', 'http-port': '0', 'log-level': 'silent' },
    env: { METERLEDGER_BLOCK_INTERVAL_MS: '50', METERLEDGER_VERIFY_WORKERS: '0' },
  });
  const notices: string[] = [];
  const gw = await startGateway(config, { logger: quiet, notice: (l) => notices.push(l) });
  try {
    assert.match(notices[0]!, /^initialised a dev chain "dev-[0-9a-f]+" in .* with 10 meters/);
    assert.match(gw.urls.mqtt!, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const ready = await fetch(`${gw.http.url}/readyz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(ready.status, 200);

    const report = await runSimulation({
      dataDir, genesis: gw.node.genesis, mqttUrl: gw.urls.mqtt!, httpUrl: gw.http.url, meters: 3, readings: 4,
      maxInFlight: 100, timeoutMs: 20_000,
    });
    assert.equal(report.sent, 12);
    assert.equal(report.acknowledged, 12);
    assert.equal(report.receipted, 12);
    assert.equal(report.missing, 0);
    assert.equal(report.invalidReceipts, 0);
    assert.ok(report.receipt.p50! >= report.ack.p50!);

    const status = await (await fetch(`${gw.http.url}/api/v1/status`)).json() as { height: number };
    assert.ok(status.height >= 1);
    const metrics = await (await fetch(`${gw.http.url}/metrics`)).text();
    assert.match(metrics, /^meterledger_readings_accepted_total 12$/m);
    assert.match(metrics, /^meterledger_readings_received_total\{transport="mqtt"\} 12$/m);
  } finally {
    await gw.close();
    await gw.close(); // idempotent
  }
  await assert.rejects(fetch(`${gw.http.url}/healthz`, { signal: AbortSignal.timeout(2000) }));
});
