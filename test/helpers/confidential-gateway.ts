/**
 * A confidential billing dev chain on a real gateway process: `init --confidential
 * --billing` (two meters, owner-0001 and owner-0002 each the recipient of its meter only),
 * blocks every 200 ms, and `meterledger simulate` over real MQTT sending sealed readings
 * with their period keys. For the period-key route and the portal's sealed readings.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayProcess, cli } from './gateway-process.js';

export async function startConfidentialGateway(dir: string, readings: number): Promise<GatewayProcess> {
  const init = await cli(['init', '--data-dir', dir, '--meters', '2', '--confidential', '--billing']);
  assert.equal(init.code, 0, init.stderr);
  const cfgFile = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.ledger = { blockIntervalMs: 200 };
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const gw = await GatewayProcess.create(dir, ['--log-level', 'warn']);
  await gw.start(60_000);
  const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', String(readings), '--json'], { timeoutMs: 90_000 });
  assert.equal(sim.code, 0, sim.stdout + sim.stderr);
  return gw;
}
