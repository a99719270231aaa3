/**
 * A clean stop is clean: real MQTT meters publish at QoS 1 while the gateway is stopped
 * with SIGTERM (twice) and SIGHUP (once) and restarted. Each stop exits 0 and logs nothing
 * at error level and no stack trace (it used to log ~75 "mqemitter is closed" errors, and
 * SIGHUP killed the process outright); every reading that got a PUBACK is committed after
 * the restarts, and the store verifies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseGenesis } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { startAckedLoad, uncommitted } from '../../helpers/acked-load.js';
import { GatewayProcess, cli, errorLines, logLines } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { until } from '../../helpers/until.js';

const METERS = 4;
const IN_FLIGHT = 8;
const STOPS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGTERM'];

describe('SIGTERM and SIGHUP under QoS 1 load', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-shutdown-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(`${STOPS.join(', ')}: exit 0, no error logged, every acknowledged reading committed`, async () => {
    assert.equal((await cli(['init', '--data-dir', dir, '--meters', String(METERS)])).code, 0);
    const cfg = join(dir, 'shutdown-config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 250, meterRatePerSecond: 0 } }));
    const gw = await GatewayProcess.create(dir, ['--config', cfg, '--log-level', 'info']);
    await gw.start();
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const meters = await Promise.all(genesis.meters.map((m) => TestMeter.connect(gw.mqttUrl, genesis, m.id, loadKeyFile(dataPaths(dir).meterKey(m.id)))));
    const load = startAckedLoad(meters, IN_FLIGHT);
    try {
      for (const sig of STOPS) {
        const before = load.total();
        await until('readings acknowledged under load', () => load.total() >= before + 200, 60_000);
        const code = await gw.stop(30_000, sig);
        const lines = logLines(gw.stderr);
        assert.deepEqual(errorLines(gw.stderr).map((l) => l.msg), [], `${sig}: error-level lines\n${gw.stderr.slice(-3000)}`);
        assert.doesNotMatch(gw.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${sig}: a stack trace in the log`);
        assert.equal(code, 0, `${sig}: exit code (null: killed by the signal)\n${gw.stderr.slice(-2000)}`);
        assert.ok(lines.some((l) => l.msg === 'signal received' && l.signal === sig), `${sig}: logged as received`);
        assert.ok(lines.some((l) => l.msg === 'stopped'), `${sig}: the stop finished`);
        await gw.start();
      }
      await load.stop(30_000);
    } finally {
      await load.stop(1000).catch(() => {});
    }
    const total = load.total();
    assert.ok(total >= 600, `load too small to mean anything (${total} acknowledged)`);
    const missing = await uncommitted(gw, load.acked);
    assert.deepEqual(missing, [], `acknowledged but not committed: ${missing.slice(0, 10).join(', ')}`);
    await Promise.all(meters.map((m) => m.close()));
    assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));
    const v = await cli(['verify', '--data-dir', dir], { timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stderr + v.stdout);
  });
});
