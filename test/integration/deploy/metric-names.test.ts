/**
 * Metric names cannot drift: every meterledger_* name the dashboard and the alert rules
 * query exists on the /metrics of a real gateway under a little load, and every metric
 * the gateway defines is on the dashboard. Also: the Docker image's HEALTHCHECK command
 * passes against a running gateway and fails against a closed port.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { freePort } from '../../helpers/ports.js';
import {
  dashboardQueries, dockerHealthcheck, exposedFamilies, isExposed, meterledgerNames, parseAlertRules, readRepo, repoPath, run,
} from '../../helpers/deploy.js';

/**
 * Families registered only when a feature is configured, so absent from a plain gateway.
 * Each with its reason; the test fails if one of them shows up here (then it is no longer
 * gated) or if a gated name is referenced that is not listed.
 */
const FEATURE_GATED = new Map<string, string>([
  ['meterledger_xmpp_connected', 'registered only with an xmpp section (gateway/metrics.ts, xmppMetrics)'],
  ['meterledger_nats_connected', 'registered only when the gateway has a NATS link (a lone validator has none)'],
  ['meterledger_xmpp_state', 'registered only with an xmpp section'],
  ['meterledger_xmpp_stanzas_received_total', 'registered only with an xmpp section'],
  ['meterledger_xmpp_stanzas_refused_total', 'registered only with an xmpp section'],
  ['meterledger_xmpp_receipts_sent_total', 'registered only with an xmpp section'],
]);

interface Reference {
  readonly name: string;
  readonly where: string;
}

function references(): Reference[] {
  const refs: Reference[] = [];
  for (const f of readdirSync(repoPath('deploy/grafana/dashboards')).filter((x) => x.endsWith('.json'))) {
    const dash = JSON.parse(readRepo('deploy/grafana/dashboards', f)) as Parameters<typeof dashboardQueries>[0];
    for (const q of dashboardQueries(dash)) for (const name of meterledgerNames(q.expr)) refs.push({ name, where: `${f}: panel "${q.panel}"` });
  }
  for (const r of parseAlertRules(readRepo('deploy/prometheus/alerts.yml'))) {
    for (const name of meterledgerNames(r.expr)) refs.push({ name, where: `alerts.yml: ${r.alert}` });
  }
  return refs;
}

describe('dashboard and alerts against the /metrics of a real gateway', { timeout: 120_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let exposition = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ml-metric-names-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '3']);
    assert.equal(init.code, 0, init.stderr);
    const cfg = join(dir, 'test-config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 200 } }));
    gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start();
    const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--readings', '5', '--json'], { timeoutMs: 60_000 });
    assert.equal(sim.code, 0, sim.stderr + sim.stdout);
    // One refused CONNECT, so the connect-refused family has a sample too.
    const bad = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'intruder', username: 'meter-0001', password: 'ml1.0.00', reconnectPeriod: 0, connectTimeout: 5000 })
      .then((c) => c.endAsync().then(() => 'connected'), () => 'refused');
    assert.equal(bad, 'refused');
    const r = await fetch(`${gw.httpUrl}/metrics`);
    assert.equal(r.status, 200);
    exposition = await r.text();
  });

  after(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every meterledger_* name in the dashboard and alerts.yml is exposed, or listed as feature-gated', () => {
    const families = exposedFamilies(exposition);
    const refs = references();
    assert.ok(new Set(refs.map((r) => r.name)).size >= 30, `few names found: ${[...new Set(refs.map((r) => r.name))].join(', ')}`);
    const missing = refs.filter((r) => !isExposed(r.name, families) && !FEATURE_GATED.has(r.name));
    assert.deepEqual(missing.map((m) => `${m.name} (${m.where})`), [], 'names the real gateway does not expose');
    for (const name of FEATURE_GATED.keys()) {
      assert.ok(!families.has(name), `${name} is exposed without its feature: take it off FEATURE_GATED`);
    }
  });

  test('names of ours have samples, not just a TYPE line (labels are zeroed or the event happened)', () => {
    const families = exposedFamilies(exposition);
    for (const name of new Set(references().map((r) => r.name))) {
      if (FEATURE_GATED.has(name)) continue;
      const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      assert.match(exposition, new RegExp(`^${base}(_bucket|_sum|_count)?(\\{| )`, 'm'), `${name} has no sample`);
    }
  });

  test('every metric gateway/metrics.ts defines is on the dashboard (process and Node.js defaults aside)', () => {
    const onDashboard = new Set(references().filter((r) => !r.where.startsWith('alerts.yml')).map((r) => r.name.replace(/_(bucket|sum|count)$/, '')));
    const ours = [...exposedFamilies(exposition).keys()].filter((n) => !/^meterledger_(process|nodejs)_/.test(n));
    assert.ok(ours.length >= 25, ours.join(', '));
    assert.deepEqual(ours.filter((n) => !onDashboard.has(n)), [], 'metrics without a panel');
  });

  test('the Docker HEALTHCHECK command passes against /healthz and fails on a closed port', async () => {
    const [cmd, ...args] = dockerHealthcheck(readRepo('deploy/Dockerfile'));
    assert.equal(cmd, 'node');
    const ok = await run(process.execPath, args, { env: { METERLEDGER_HTTP_PORT: String(gw.httpPort) }, timeoutMs: 10_000 });
    assert.equal(ok.code, 0, ok.stderr);
    const closed = await run(process.execPath, args, { env: { METERLEDGER_HTTP_PORT: String(await freePort()) }, timeoutMs: 10_000 });
    assert.equal(closed.code, 1, closed.stderr);
  });
});
