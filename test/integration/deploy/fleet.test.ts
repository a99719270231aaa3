/**
 * The shipped monitoring against a fleet on one host, as the README runs it: a 3-validator
 * testnet on a real nats-server beside a lone dev chain, four real gateway processes on
 * 127.0.0.1, scraped by a real Prometheus with deploy/prometheus/prometheus.yml as shipped
 * (only its targets, intervals, rule path and node_exporter address pointed here) and
 * deploy/prometheus/alerts.yml loaded. It checks what was wrong before:
 * - each gateway is its own series (the old relabelling made count(up) 1);
 * - heights carry chain_id, and MeterledgerFallingBehind and the dashboard's "Highest
 *   block" / "Blocks behind" compare within a chain while the dev chain runs far ahead;
 * - meterledger_store_size_bytes counts the files of a young store (it read 0), and the
 *   StoreOutgrowsDisk inputs join for every gateway without node_exporter;
 * - every gateway's /metrics passes `promtool check metrics`;
 * - /readyz says 503 "no quorum" on the validators left when one of three stops.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseGenesis } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { GatewayProcess, cli, errorLines } from '../../helpers/gateway-process.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { freePort } from '../../helpers/ports.js';
import { type PrometheusProcess, startPrometheus } from '../../helpers/prometheus.js';
import { until } from '../../helpers/until.js';
import { dashboardQueries, parseAlertRules, promtoolCheckMetrics, readRepo, repoPath } from '../../helpers/deploy.js';

/** Replace `from` by `to`, insisting it occurs exactly once (the shipped file's shape is what we test). */
function swap(text: string, from: string, to: string): string {
  assert.equal(text.split(from).length - 1, 1, `expected one ${JSON.stringify(from)} in prometheus.yml`);
  return text.replace(from, to);
}

/** Bytes of the files below `dir`, as the test sees them. */
function du(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    try {
      n += e.isDirectory() ? du(p) : e.isFile() ? statSync(p).size : 0;
    } catch {
      /* removed by a compaction meanwhile */
    }
  }
  return n;
}

const expr = (alert: string): string => parseAlertRules(readRepo('deploy/prometheus/alerts.yml')).find((r) => r.alert === alert)!.expr;
const panel = (title: string): string => {
  const dash = JSON.parse(readRepo('deploy/grafana/dashboards/meterledger.json')) as Parameters<typeof dashboardQueries>[0];
  return dashboardQueries(dash).find((q) => q.panel === title)!.expr;
};

describe('the shipped Prometheus config and rules on a testnet and a dev chain on one host', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'ml-fleet-'));
  let nats: NatsCluster | undefined;
  let prom: PrometheusProcess | undefined;
  const validators: GatewayProcess[] = [];
  let dev: GatewayProcess;
  let all: GatewayProcess[] = [];
  let testnetChain = '';
  let devChain = '';

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
    const net = join(root, 'net');
    const t = await cli(['testnet', '--validators', '3', '--meters', '2', '--out', net, '--nats', nats.urls[0]!]);
    assert.equal(t.code, 0, t.stderr);
    for (let i = 0; i < 3; i++) {
      const dir = join(net, `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.ledger = { blockIntervalMs: 300 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      validators.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    testnetChain = parseGenesis(JSON.parse(readFileSync(dataPaths(validators[0]!.dataDir).genesis, 'utf8'))).chainId;
    const devDir = join(root, 'dev');
    assert.equal((await cli(['init', '--data-dir', devDir, '--meters', '4'])).code, 0);
    devChain = parseGenesis(JSON.parse(readFileSync(dataPaths(devDir).genesis, 'utf8'))).chainId;
    const devCfg = join(root, 'dev.json');
    writeFileSync(devCfg, JSON.stringify({ ledger: { blockIntervalMs: 50, meterRatePerSecond: 0 } }));
    dev = await GatewayProcess.create(devDir, ['--config', devCfg, '--log-level', 'warn']);
    all = [...validators, dev];
    await Promise.all(all.map((g) => g.start(60_000)));

    const closed = await freePort(); // node_exporter is not run here: its target is just down
    prom = await startPrometheus(root, (port) => {
      let c = readRepo('deploy/prometheus/prometheus.yml');
      c = swap(c, 'scrape_interval: 15s', 'scrape_interval: 1s');
      c = swap(c, 'evaluation_interval: 15s', 'evaluation_interval: 1s');
      c = swap(c, '  - alerts.yml', `  - ${JSON.stringify(repoPath('deploy/prometheus/alerts.yml'))}`);
      c = swap(c, 'gateway-0:8080', `127.0.0.1:${validators[0]!.httpPort}`);
      c = swap(c, 'gateway-1:8080', `127.0.0.1:${validators[1]!.httpPort}`);
      c = swap(c, '          - gateway-2:8080', `          - 127.0.0.1:${validators[2]!.httpPort}\n          - 127.0.0.1:${dev.httpPort}`);
      c = swap(c, 'node-exporter:9100', `127.0.0.1:${closed}`);
      return swap(c, 'localhost:9090', `127.0.0.1:${port}`);
    });
  });

  after(async () => {
    await prom?.stop();
    await Promise.all(all.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('four gateways on one host are four series: count(up) is 4, each with its host:port', async () => {
    const want = all.map((g) => `127.0.0.1:${g.httpPort}`).sort();
    let seen = '';
    await until('Prometheus scraped every gateway', async () => {
      const up = await prom!.query('up{job="meterledger"} == 1');
      seen = JSON.stringify(up.map((s) => s.metric.instance));
      return up.length === 4;
    }, 60_000, 500).catch((e: Error) => assert.fail(`${e.message}; up for ${seen}; ${prom!.log()}`));
    const count = await prom!.query('count(up{job="meterledger"})');
    assert.equal(count[0]?.value[1], '4');
    assert.deepEqual((await prom!.query('meterledger_build_info{job="meterledger"}')).map((s) => s.metric.instance).sort(), want);
  });

  test('the dev chain runs 10+ blocks ahead of the testnet: no FallingBehind, "Blocks behind" stays within a chain', async () => {
    // The dev chain: 4 meters at 40 readings/s with 50 ms blocks; the testnet: a few readings.
    const devSim = cli(['simulate', '--data-dir', dev.dataDir, '--mqtt', dev.mqttUrl, '--readings', '40', '--rate', '40', '--json'], { timeoutMs: 120_000 });
    const netSim = await cli(['simulate', '--data-dir', validators[0]!.dataDir, '--mqtt', validators[0]!.mqttUrl, '--readings', '3', '--json'], { timeoutMs: 120_000 });
    assert.equal(netSim.code, 0, netSim.stderr + netSim.stdout);
    let heights = '';
    await until('the dev chain 10+ blocks ahead, both chains seen committing', async () => {
      const h = await prom!.query('max by (chain_id) (meterledger_block_height{job="meterledger"})');
      const moving = await prom!.query('max by (chain_id) (changes(meterledger_block_height{job="meterledger"}[10m])) > 0');
      const of = (c: string): number => Number(h.find((s) => s.metric.chain_id === c)?.value[1] ?? NaN);
      heights = JSON.stringify({ h, moving: moving.map((s) => s.metric.chain_id) });
      return of(devChain) > of(testnetChain) + 10 && of(testnetChain) >= 1 && moving.length === 2;
    }, 90_000, 500).catch((e: Error) => assert.fail(`${e.message}; ${heights}`));
    const sim = await devSim;
    assert.equal(sim.code, 0, sim.stderr + sim.stdout);

    const heightsNow = await prom!.query('meterledger_block_height{job="meterledger"}');
    assert.deepEqual(
      heightsNow.map((s) => `${s.metric.instance} ${s.metric.chain_id}`).sort(),
      [...validators.map((g) => `127.0.0.1:${g.httpPort} ${testnetChain}`), `127.0.0.1:${dev.httpPort} ${devChain}`].sort(),
      'block_height carries each gateway\'s chain_id',
    );
    // The rule as shipped, without its `for`: nothing is behind its own chain.
    assert.deepEqual(await prom!.query(expr('MeterledgerFallingBehind')), []);
    const behind = await prom!.query(panel('Blocks behind the highest gateway'));
    assert.equal(behind.length, 4);
    for (const s of behind) assert.ok(Number(s.value[1]) <= 1, `${s.metric.instance} (${s.metric.chain_id}) ${s.value[1]} behind`);
    const highest = await prom!.query(panel('Highest block'));
    assert.deepEqual(highest.map((s) => s.metric.chain_id).sort(), [devChain, testnetChain].sort());
  });

  test('store size counts the files of store/ and wal/ on young stores; the StoreOutgrowsDisk inputs join for every gateway', async () => {
    for (const g of all) {
      const p = dataPaths(g.dataDir);
      let last = '';
      // The gateway measures every 15 s: wait for a measurement that matches the files now.
      await until(`${g.httpUrl}: store size matches the files`, async () => {
        const text = await (await fetch(`${g.httpUrl}/metrics`)).text();
        const got = Number(/^meterledger_store_size_bytes (\S+)$/m.exec(text)?.[1]);
        const files = du(p.store) + du(p.wal);
        last = `metric ${got}, files ${files}`;
        return got > 0 && Math.abs(got - files) <= Math.max(files * 0.05, 4096);
      }, 60_000, 500).catch((e: Error) => assert.fail(`${e.message}; ${last}`));
    }
    let seen = '';
    await until('the join of size and free space has every gateway', async () => {
      const j = await prom!.query('meterledger_store_size_bytes{job="meterledger"} > 0 and on(job, instance) meterledger_store_filesystem_avail_bytes{job="meterledger"} > 0');
      seen = JSON.stringify(j);
      return j.length === 4;
    }, 30_000, 500).catch((e: Error) => assert.fail(`${e.message}; ${seen}`));
    // The rule itself evaluates (empty: nothing grows by gigabytes here).
    assert.deepEqual(await prom!.query(expr('MeterledgerStoreOutgrowsDisk')), []);
  });

  test('promtool check metrics passes on every gateway\'s /metrics (validators with NATS, the lone dev gateway)', async () => {
    for (const g of all) {
      const text = await (await fetch(`${g.httpUrl}/metrics`)).text();
      assert.match(text, /^meterledger_block_height\{/m);
      const r = await promtoolCheckMetrics(text);
      assert.equal(r.stderr + r.stdout, '', `${g.httpUrl}/metrics`);
      assert.equal(r.code, 0);
    }
  });

  test('one of three validators stops: the other two answer /readyz 503 "no quorum" until it is back', async () => {
    for (const g of all) assert.equal((await fetch(`${g.httpUrl}/readyz`)).status, 200, g.httpUrl);
    assert.equal(await validators[2]!.stop(), 0);
    assert.deepEqual(errorLines(validators[2]!.stderr).map((l) => l.msg), [], 'a clean stop of a cluster member logs no error');
    for (const g of validators.slice(0, 2)) {
      let body: { reasons?: string[] } = {};
      await until(`${g.httpUrl} not ready`, async () => {
        const r = await g.json<{ reasons?: string[] }>('/readyz');
        body = r.body;
        return r.status === 503;
      }, 30_000, 250);
      assert.equal(body.reasons?.length, 1, JSON.stringify(body));
      assert.match(body.reasons![0]!, /^no quorum: /);
      const s = await g.json<{ ready: boolean; consensus: { quorum: boolean } }>('/api/v1/status');
      assert.equal(s.body.ready, false);
      assert.equal(s.body.consensus.quorum, false);
      assert.equal((await fetch(`${g.httpUrl}/healthz`)).status, 200, 'alive all the same');
    }
    assert.equal((await fetch(`${dev.httpUrl}/readyz`)).status, 200, 'the lone dev gateway is not concerned');
    await validators[2]!.start(60_000); // waits for its own /readyz 200
    for (const g of validators) await until(`${g.httpUrl} ready again`, async () => (await fetch(`${g.httpUrl}/readyz`)).status === 200, 30_000, 250);
  });
});
