/**
 * The real Prometheus (Debian's `prometheus`) scrapes a real gateway under simulated load
 * every second, with deploy/prometheus/alerts.yml loaded: the accepted-readings rate and
 * the block height come through its query API, every rule is loaded and evaluates
 * healthy, and no alert is pending or firing for a healthy lone gateway (the guards for
 * the lone validator's quorum gauge and the idle chain hold on real data).
 * Everything on 127.0.0.1; Prometheus and the gateway are stopped in `after`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { type PrometheusProcess, type Sample, startPrometheus } from '../../helpers/prometheus.js';
import { parseAlertRules, readRepo, repoPath } from '../../helpers/deploy.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns a value, or fail after `ms` with the last thing seen. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, seen: () => string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(500);
  }
  assert.fail(`${what}: not within ${ms} ms; last seen: ${seen()}`);
}

describe('Prometheus scrapes a gateway under load and evaluates the alert rules', { timeout: 150_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let prom: PrometheusProcess | undefined;
  let sim: ChildProcess | undefined;
  let api = '';
  const promLog = (): string => prom?.log() ?? '';
  const query = (q: string): Promise<Sample[]> => prom!.query(q);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ml-prometheus-'));
    const data = join(dir, 'gw');
    const init = await cli(['init', '--data-dir', data, '--meters', '5']);
    assert.equal(init.code, 0, init.stderr);
    const cfg = join(dir, 'gateway.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 250 } }));
    gw = await GatewayProcess.create(data, ['--config', cfg]);
    await gw.start();

    prom = await startPrometheus(dir, () => [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'rule_files:', `  - ${JSON.stringify(repoPath('deploy/prometheus/alerts.yml'))}`,
      'scrape_configs:', '  - job_name: meterledger', '    static_configs:', `      - targets: ["127.0.0.1:${gw.httpPort}"]`, '',
    ].join('\n'));
    api = prom.url;

    // Load in the background: 5 meters, 20 readings/s for about 15 s.
    sim = spawn(process.execPath, [CLI, 'simulate', '--data-dir', data, '--mqtt', gw.mqttUrl, '--readings', '60', '--rate', '20', '--json'], { stdio: 'ignore' });
  });

  after(async () => {
    if (sim && sim.exitCode === null && sim.signalCode === null) {
      const exited = new Promise((r) => sim!.once('exit', r));
      sim.kill('SIGTERM');
      const t = setTimeout(() => sim!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await prom?.stop();
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the gateway target is up and the accepted-readings rate is above zero', async () => {
    let last = '';
    const rate = await until('rate(meterledger_readings_accepted_total[15s]) > 0', 45_000, async () => {
      const up = await query('up{job="meterledger"}');
      const r = await query('sum(rate(meterledger_readings_accepted_total{job="meterledger"}[15s]))');
      last = JSON.stringify({ up, r });
      const v = Number(r[0]?.value[1]);
      return up[0]?.value[1] === '1' && v > 0 ? v : undefined;
    }, () => last + promLog());
    assert.ok(rate > 0);
  });

  test('the block height Prometheus stored is above zero', async () => {
    let last = '';
    const h = await until('meterledger_block_height > 0', 30_000, async () => {
      const r = await query('max(meterledger_block_height{job="meterledger"})');
      last = JSON.stringify(r);
      const v = Number(r[0]?.value[1]);
      return v > 0 ? v : undefined;
    }, () => last);
    assert.ok(h >= 1);
  });

  test('every rule of alerts.yml is loaded, with its labels and annotations, and evaluates healthy', async () => {
    const expected = parseAlertRules(readRepo('deploy/prometheus/alerts.yml'));
    interface Rule { name: string; type: string; health: string; lastError?: string; labels: Record<string, string>; annotations: Record<string, string> }
    let last = '';
    const rules = await until('all rules evaluated ok', 30_000, async () => {
      const r = await fetch(`${api}/api/v1/rules`, { signal: AbortSignal.timeout(5000) });
      const body = (await r.json()) as { data: { groups: { rules: Rule[] }[] } };
      const all = body.data.groups.flatMap((g) => g.rules);
      last = JSON.stringify(all.map((x) => [x.name, x.health, x.lastError]));
      return all.length === expected.length && all.every((x) => x.health === 'ok') ? all : undefined;
    }, () => last);
    assert.deepEqual(rules.map((r) => r.name).sort(), expected.map((r) => r.alert).sort());
    for (const r of rules) {
      assert.equal(r.type, 'alerting');
      assert.ok(r.labels.severity, `${r.name}: severity`);
      assert.ok(r.annotations.runbook_url?.includes('docs/operations.md#'), `${r.name}: runbook_url`);
      assert.ok(r.annotations.summary && r.annotations.description, `${r.name}: summary and description`);
    }
  });

  test('no alert is pending or firing for a healthy lone gateway under load', async () => {
    // Let the rules see the load for a few evaluations first.
    await until('some load scraped', 30_000, async () => {
      const r = await query('max_over_time(meterledger_backlog_transactions{job="meterledger"}[1m]) > 0');
      return r.length > 0 ? true : undefined;
    }, () => promLog());
    await sleep(3000);
    const r = await fetch(`${api}/api/v1/alerts`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    assert.deepEqual(body.data.alerts.map((a) => `${a.labels.alertname} ${a.state}`), []);
  });
});
