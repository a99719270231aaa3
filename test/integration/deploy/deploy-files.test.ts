/**
 * The files of deploy/ are accepted by the tools that will read them (promtool,
 * docker-compose, systemd-analyze), the alert rules behave as their promtool unit tests
 * say, and they hang together: every alert has a severity, a summary, a description and a
 * runbook section in docs/operations.md; the dashboard's panels all query something; the
 * settings compose and the systemd files use exist. Whether the metric names exist is
 * checked against a real gateway in test/integration/deploy/metric-names.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_FILE_ENV, CONFIG_REFERENCE, loadConfig } from '../../../gateway/config.js';
import { plaintextWarnings } from '../../../gateway/transport-security.js';
import {
  alertTestCases, dashboardPanels, dashboardQueries, dockerHealthcheck, markdownAnchors, parseAlertRules, readRepo, repoPath, requireTool, run,
} from '../../helpers/deploy.js';

const ALERTS = 'deploy/prometheus/alerts.yml';
const DASHBOARD_DIR = 'deploy/grafana/dashboards';

describe('Prometheus configuration and alert rules', () => {
  test('promtool check config accepts deploy/prometheus/prometheus.yml (and the rule file it loads)', async () => {
    const promtool = requireTool('promtool', 'prometheus');
    const r = await run(promtool, ['check', 'config', 'deploy/prometheus/prometheus.yml']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('promtool check rules accepts deploy/prometheus/alerts.yml', async () => {
    const promtool = requireTool('promtool', 'prometheus');
    const r = await run(promtool, ['check', 'rules', ALERTS]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${parseAlertRules(readRepo(ALERTS)).length} rules found`));
  });

  test('promtool test rules: the alerts fire and stay quiet as alerts.test.yml says (stuck vs idle, lone validator, two chains in one job)', async () => {
    const promtool = requireTool('promtool', 'prometheus');
    const r = await run(promtool, ['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('alerts.test.yml has, for every alert, a case where it fires and one where it stays quiet', () => {
    const cases = alertTestCases(readRepo('deploy/prometheus/alerts.test.yml'));
    for (const { alert } of parseAlertRules(readRepo(ALERTS))) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(mine.some((c) => c.fires), `${alert}: no case where it fires`);
      assert.ok(mine.some((c) => !c.fires), `${alert}: no case where it stays quiet (exp_alerts: [])`);
    }
    const known = new Set(parseAlertRules(readRepo(ALERTS)).map((r) => r.alert));
    assert.deepEqual(cases.filter((c) => !known.has(c.alertname)).map((c) => c.alertname), [], 'cases of alerts that do not exist');
  });

  test('every alert has a severity, a summary, a description and a runbook_url to a heading of docs/operations.md', () => {
    const rules = parseAlertRules(readRepo(ALERTS));
    assert.ok(rules.length >= 7, `expected the issue's alerts, found ${rules.map((r) => r.alert).join(', ')}`);
    const anchors = markdownAnchors(readRepo('docs/operations.md'));
    for (const r of rules) {
      assert.ok(r.expr.length > 0, `${r.alert}: expr`);
      assert.match(r.labels.severity ?? '', /^(critical|warning|info)$/, `${r.alert}: severity label`);
      assert.ok(r.annotations.summary, `${r.alert}: summary annotation`);
      assert.ok(r.annotations.description, `${r.alert}: description annotation`);
      const url = r.annotations.runbook_url ?? '';
      const m = /(?:^|\/)docs\/operations\.md#([a-z0-9_-]+)$/.exec(url);
      assert.ok(m, `${r.alert}: runbook_url ${JSON.stringify(url)} must point to docs/operations.md#<anchor>`);
      assert.ok(anchors.has(m[1]!), `${r.alert}: docs/operations.md has no heading for #${m[1]}`);
    }
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');
  });

  test('the issue\'s alerts are all there', () => {
    const exprs = parseAlertRules(readRepo(ALERTS)).map((r) => r.expr).join('\n');
    for (const needle of [/\bup\{job="meterledger"\} == 0/, /changes\(meterledger_block_height/, /meterledger_consensus_has_quorum\{[^}]*\} == 0/,
      /meterledger_backlog_transactions/, /meterledger_backlog_oldest_age_seconds/, /rate\(meterledger_readings_rejected_total/,
      /max by \(job, chain_id\) \(meterledger_block_height/, /predict_linear\(meterledger_store_size_bytes/,
      /meterledger_store_filesystem_avail_bytes/, /node_filesystem_avail_bytes/]) {
      assert.match(exprs, needle);
    }
  });
});

describe('Grafana dashboards and provisioning', () => {
  const files = readdirSync(repoPath(DASHBOARD_DIR)).filter((f) => f.endsWith('.json'));

  test('there is a dashboard', () => assert.ok(files.includes('meterledger.json'), files.join(', ')));

  for (const f of files) {
    test(`${f} parses; every panel queries something; panel ids are unique`, () => {
      const dash = JSON.parse(readRepo(DASHBOARD_DIR, f)) as Parameters<typeof dashboardPanels>[0] & { uid?: string; title?: string };
      assert.ok(dash.uid && dash.title, 'uid and title');
      const panels = dashboardPanels(dash) as { id?: number; type?: string; title?: string; targets?: { expr?: string }[] }[];
      const graphs = panels.filter((p) => p.type !== 'row');
      assert.ok(graphs.length >= 20, `only ${graphs.length} panels`);
      for (const p of graphs) {
        assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has no targets`);
        for (const t of p.targets) assert.ok(t.expr && t.expr.trim(), `panel "${p.title}" has a target without expr`);
      }
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    });
  }

  test('meterledger.json has a $gateway variable over instance, used by the per-gateway panels, and the views the issue lists', () => {
    const dash = JSON.parse(readRepo(DASHBOARD_DIR, 'meterledger.json')) as { templating: { list: { name: string; query: { query: string } | string }[] } } & Parameters<typeof dashboardQueries>[0];
    const v = dash.templating.list.find((x) => x.name === 'gateway');
    assert.ok(v, '$gateway variable');
    assert.match(typeof v.query === 'string' ? v.query : v.query.query, /label_values\([^)]*,\s*instance\)/);
    const exprs = dashboardQueries(dash).map((q) => q.expr).join('\n');
    assert.match(exprs, /instance=~"\$gateway"/);
    for (const needle of [
      /sum by \(transport\) \(rate\(meterledger_readings_received_total/, /sum by \(reason\) \(rate\(meterledger_readings_rejected_total/,
      /histogram_quantile\(0\.99, sum by \(le\) \(rate\(meterledger_accept_latency_seconds_bucket/,
      /histogram_quantile\(0\.99, sum by \(le\) \(rate\(meterledger_commit_latency_seconds_bucket/,
      /meterledger_block_height/, /meterledger_consensus_round/, /meterledger_consensus_timeouts_total/, /meterledger_consensus_peers/,
      /meterledger_consensus_has_quorum/, /meterledger_backlog_transactions/, /meterledger_backlog_oldest_age_seconds/,
      /meterledger_mqtt_clients_connected/, /meterledger_xmpp_state/, /meterledger_store_size_bytes/, /meterledger_process_cpu_seconds_total/,
      /meterledger_process_resident_memory_bytes/, /meterledger_nodejs_eventloop_lag_p99_seconds/,
    ]) assert.match(exprs, needle);
  });

  test('provisioning: the data source is the compose Prometheus, the dashboard provider reads the folder compose mounts', () => {
    const ds = readRepo('deploy/grafana/provisioning/datasources/prometheus.yml');
    assert.match(ds, /type: prometheus/);
    assert.match(ds, /url: http:\/\/prometheus:9090/);
    const prov = readRepo('deploy/grafana/provisioning/dashboards/meterledger.yml');
    const path = /path: (\S+)/.exec(prov)?.[1];
    assert.ok(path, 'provider path');
    const compose = readRepo('deploy/compose.yml');
    assert.ok(compose.includes(`./grafana/dashboards:${path}:ro`), `compose mounts deploy/grafana/dashboards at ${path}`);
    assert.ok(compose.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'));
  });
});

describe('compose stack', () => {
  test('docker-compose config -q accepts deploy/compose.yml', async () => {
    const dc = requireTool('docker-compose', 'docker-compose');
    const r = await run(dc, ['-f', 'deploy/compose.yml', 'config', '-q'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('it has the init job, three gateways on their own volumes, three NATS servers, Prometheus and Grafana', async () => {
    const dc = requireTool('docker-compose', 'docker-compose');
    const services = (await run(dc, ['-f', 'deploy/compose.yml', 'config', '--services'])).stdout.trim().split('\n').sort();
    for (const s of ['init', 'gateway-0', 'gateway-1', 'gateway-2', 'nats-1', 'nats-2', 'nats-3', 'prometheus', 'grafana']) assert.ok(services.includes(s), `service ${s} in ${services.join(', ')}`);
    const full = (await run(dc, ['-f', 'deploy/compose.yml', 'config'])).stdout;
    // The gateways wait for init to have finished, or an empty volume would get a dev chain.
    assert.equal(full.match(/condition: service_completed_successfully/g)?.length, 3, full);
    const compose = readRepo('deploy/compose.yml');
    assert.match(compose, /testnet --validators 3\b/);
    for (const i of [0, 1, 2]) assert.match(compose, new RegExp(`gateway-${i}-data:/data\\b`));
    for (const i of [1, 2, 3]) assert.match(compose, new RegExp(`\\./nats/nats-${i}\\.conf:`));
    const prom = readRepo('deploy/prometheus/prometheus.yml');
    for (const i of [0, 1, 2]) assert.match(prom, new RegExp(`gateway-${i}:8080`));
  });

  test('host ports come from variables with defaults: 127.0.0.1 and the documented ports unless set', async () => {
    const dc = requireTool('docker-compose', 'docker-compose');
    const vars = [...readRepo('deploy/compose.yml').matchAll(/\$\{([A-Za-z0-9_]+)([^}]*)\}/g)];
    assert.ok(vars.length >= 8, 'one variable per published port');
    for (const [whole, , rest] of vars) assert.match(rest!, /^:-\d+$/, `${whole}: a default port`);
    const names = vars.map((v) => v[1]!);
    const unset = Object.fromEntries(names.map((n) => [n, ''])); // empty takes the default, like unset
    const config = async (env: Record<string, string>): Promise<Map<string, string[]>> => {
      const r = await run(dc, ['-f', 'deploy/compose.yml', 'config'], { env, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      return publishedPorts(r.stdout);
    };
    const defaults = await config(unset);
    const want: Record<string, string[]> = {
      'gateway-0': ['127.0.0.1:1883:1883/tcp', '127.0.0.1:8080:8080/tcp'],
      'gateway-1': ['127.0.0.1:1884:1883/tcp', '127.0.0.1:8081:8080/tcp'],
      'gateway-2': ['127.0.0.1:1885:1883/tcp', '127.0.0.1:8082:8080/tcp'],
      prometheus: ['127.0.0.1:9090:9090/tcp'],
      grafana: ['127.0.0.1:3000:3000/tcp'],
    };
    assert.deepEqual(Object.fromEntries(defaults), want);
    const set = {
      ...unset, GATEWAY_0_MQTT_PORT: '21883', GATEWAY_1_HTTP_PORT: '28081', GATEWAY_2_MQTT_PORT: '21885', PROMETHEUS_PORT: '29090', GRAFANA_PORT: '23000',
    };
    const moved = await config(set);
    assert.deepEqual(Object.fromEntries(moved), {
      'gateway-0': ['127.0.0.1:21883:1883/tcp', '127.0.0.1:8080:8080/tcp'],
      'gateway-1': ['127.0.0.1:1884:1883/tcp', '127.0.0.1:28081:8080/tcp'],
      'gateway-2': ['127.0.0.1:21885:1883/tcp', '127.0.0.1:8082:8080/tcp'],
      prometheus: ['127.0.0.1:29090:9090/tcp'],
      grafana: ['127.0.0.1:23000:3000/tcp'],
    });
    const doc = readRepo('docs/operations.md');
    for (const n of names) assert.ok(doc.includes(n), `docs/operations.md names ${n}`);
  });

  test('every METERLEDGER_* variable in compose, the Dockerfile and the systemd files is a real setting', () => {
    const known = new Set<string>([CONFIG_FILE_ENV, ...CONFIG_REFERENCE.flatMap((f) => (f.env ? [f.env] : []))]);
    for (const f of ['deploy/compose.yml', 'deploy/Dockerfile', 'deploy/systemd/meterledger.service', 'deploy/systemd/meterledger.env']) {
      const used = new Set(readRepo(f).match(/\bMETERLEDGER_[A-Z0-9_]+/g) ?? []);
      for (const v of used) assert.ok(known.has(v), `${f}: ${v} is not a setting of gateway/config.ts`);
    }
  });

  test('the systemd settings are TLS on every listener: they load, and the gateway would warn about nothing', () => {
    const d = mkdtempSync(join(tmpdir(), 'ml-env-'));
    try {
      // The file's variables as systemd reads them, its TLS files pointed at stand-ins here.
      const env: Record<string, string> = { METERLEDGER_DATA_DIR: d };
      for (const line of readRepo('deploy/systemd/meterledger.env').split('\n')) {
        const m = /^(METERLEDGER_[A-Z0-9_]+)=(.*)$/.exec(line);
        if (m) env[m[1]!] = m[2]!.startsWith('/etc/meterledger/tls/') ? join(d, m[2]!.slice('/etc/meterledger/tls/'.length)) : m[2]!;
      }
      for (const f of ['key.pem', 'cert.pem']) writeFileSync(join(d, f), 'pem', { mode: 0o600 });
      const c = loadConfig({ env });
      assert.equal(c.mqtt.host, '0.0.0.0');
      assert.equal(c.mqtt.plaintext, false);
      assert.ok(c.mqtt.tls && c.http.tls, 'MQTT and HTTP over TLS');
      assert.deepEqual(plaintextWarnings(c), []);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('container image', () => {
  const df = readRepo('deploy/Dockerfile');

  test('multi-stage on node:20-bookworm-slim: npm ci + build, then npm ci --omit=dev and dist/', () => {
    assert.equal(df.match(/^FROM node:20-bookworm-slim\b/gm)?.length, 2, 'two stages on node:20-bookworm-slim');
    assert.match(df, /^RUN npm ci\b/m);
    assert.match(df, /^RUN npm run build$/m);
    assert.match(df, /^RUN npm ci --omit=dev\b/m);
    assert.match(df, /^COPY --from=build \/src\/dist\/gateway /m);
  });

  test('non-root, ports, volume, healthcheck on /healthz, entrypoint and command', () => {
    const user = /^USER (\S+)$/m.exec(df)?.[1];
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.match(df, /^EXPOSE 1883 8080$/m);
    assert.match(df, /^VOLUME \["\/data"\]$/m);
    assert.ok(dockerHealthcheck(df).join(' ').includes('/healthz'));
    assert.match(df, /^ENTRYPOINT \["node", "dist\/gateway\/cli\/main\.js"\]$/m);
    assert.match(df, /^CMD \["start", "--data-dir", "\/data"\]$/m);
  });

  test('.dockerignore keeps node_modules and dist out of the build context', () => {
    const ignore = readRepo('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(p), p);
  });
});

describe('systemd unit', () => {
  const unit = readRepo('deploy/systemd/meterledger.service');

  test('systemd-analyze verify accepts it without a warning', async () => {
    const sa = requireTool('systemd-analyze', 'systemd');
    // ExecStart must name an existing binary: use this node, wherever it is installed.
    const dir = mkdtempSync(join(tmpdir(), 'ml-unit-'));
    try {
      const file = join(dir, 'meterledger.service');
      writeFileSync(file, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
      const r = await run(sa, ['verify', file], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const about = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('meterledger.service'));
      assert.deepEqual(about, [], 'no warning about the unit (an unknown or misplaced key is only a warning)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('it has the hardening and lifecycle the issue asks for, and no MemoryDenyWriteExecute', () => {
    const lines = new Set(unit.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
    for (const l of [
      'User=meterledger', 'StateDirectory=meterledger', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
      'ReadWritePaths=/var/lib/meterledger', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service', 'KillSignal=SIGTERM', 'TimeoutStopSec=30', 'Restart=on-failure',
      'EnvironmentFile=/etc/meterledger/meterledger.env',
    ]) assert.ok(lines.has(l), `${l} missing`);
    assert.deepEqual([...lines].filter((l) => l.startsWith('ReadWritePaths=')), ['ReadWritePaths=/var/lib/meterledger'], 'only the state dir is writable');
    assert.ok(![...lines].some((l) => l.startsWith('MemoryDenyWriteExecute')), 'V8 JIT needs W+X memory');
    assert.match(unit, /#.*MemoryDenyWriteExecute.*\n(#.*\n)*/, 'a comment says why it is not set');
  });
});

/** Published ports per service in `docker-compose config` output (docker-compose 1.29's layout). */
function publishedPorts(config: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let service: string | undefined;
  let inServices = false;
  let inPorts = false;
  for (const l of config.split('\n')) {
    if (/^\S/.test(l)) inServices = l === 'services:';
    const svc = inServices && /^ {2}([A-Za-z0-9_.-]+):$/.exec(l);
    if (svc) {
      service = svc[1];
      inPorts = false;
      continue;
    }
    if (/^ {4}[A-Za-z_]/.test(l)) inPorts = l.trim() === 'ports:';
    const port = inPorts && service && /^ {4}- (\S+)$/.exec(l);
    if (port) out.set(service!, [...(out.get(service!) ?? []), port[1]!]);
  }
  return out;
}

describe('the alert rule parser of these tests', () => {
  test('reads block and inline exprs, labels and annotations', () => {
    const rules = parseAlertRules([
      'groups:', '  - name: g', '    rules:',
      '      - alert: A', '        expr: |', '          x > 1', '          and y', '        for: 1m', '        labels:', '          severity: critical',
      '        annotations:', '          summary: "s"', '          runbook_url: "docs/operations.md#a"',
      '      - alert: B', '        expr: up == 0', '        labels:', '          severity: warning',
    ].join('\n'));
    assert.deepEqual(rules, [
      { alert: 'A', expr: 'x > 1\nand y', labels: { severity: 'critical' }, annotations: { summary: 's', runbook_url: 'docs/operations.md#a' } },
      { alert: 'B', expr: 'up == 0', labels: { severity: 'warning' }, annotations: {} },
    ]);
  });

  test('reads the cases of a rule test file: firing ones and exp_alerts: []', () => {
    const cases = alertTestCases([
      'tests:', '  - interval: 1m', '    alert_rule_test:',
      '      - eval_time: 2m', '        alertname: A', '        exp_alerts: []',
      '      - eval_time: 4m', '        alertname: A', '        exp_alerts:', '          - exp_labels: { severity: critical }',
    ].join('\n'));
    assert.deepEqual(cases, [{ alertname: 'A', evalTime: '2m', fires: false }, { alertname: 'A', evalTime: '4m', fires: true }]);
    assert.throws(() => alertTestCases('      - eval_time: 2m\n        exp_alerts: []\n'), /expected eval_time, alertname, exp_alerts/);
  });
});
