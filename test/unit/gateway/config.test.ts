/** Gateway config: defaults < file < METERLEDGER_* env < flags; every refusal names its field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_DEFAULTS } from '../../../ledger-node/api.js';
import { DEFAULT_TIMEOUTS } from '../../../ledger-node/consensus/types.js';
import { DEFAULT_RECONNECT } from '../../../ledger-node/p2p/defaults.js';
import { DEFAULT_WINDOW_MS } from '../../../ledger-node/p2p/peers.js';
import { DEFAULT_MAX_PAYLOAD_BYTES as MQTT_MAX_PAYLOAD_BYTES, DEFAULT_TOKEN_MAX_AGE_MS } from '../../../bridge/mqtt/index.js';
import { DEFAULT_BACKOFF, DEFAULT_MAX_PAYLOAD_BYTES as XMPP_MAX_PAYLOAD_BYTES } from '../../../bridge/xmpp/index.js';
import {
  CONFIG_REFERENCE, checkConfigFiles, configFiles, configReferenceMarkdown, loadConfig, resolveConfig,
} from '../../../gateway/config.js';
import { ConfigError, type GatewayError } from '../../../gateway/errors.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ml-config-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Assert loading throws E_CONFIG_INVALID whose message starts with `field: `. */
function assertInvalid(fn: () => unknown, field: string, why?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'E_CONFIG_INVALID');
    assert.equal(e.field, field);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    if (why) assert.match(e.message, why);
    return true;
  });
}

test('defaults: every field has the documented default', () => {
  const c = loadConfig({ flags: { 'data-dir': '/srv/ml' }, env: {} });
  assert.equal(c.dataDir, '/srv/ml');
  assert.deepEqual(c.mqtt, {
    host: '127.0.0.1', port: 1883, allowAnonymous: false, tokenMaxAgeMs: 300_000, maxPayloadBytes: 4096, accounts: [],
    maxConnectionsPerListener: 20_000, maxSessionsPerMeter: 4, maxQueuedMessages: 1000, sessionExpiryMs: 7 * 86_400_000, plaintext: true, fullReceipts: [],
  });
  assert.deepEqual(c.http, { host: '127.0.0.1', port: 8080, sessionTtlMs: 900_000 });
  assert.deepEqual(c.ledger, {
    blockIntervalMs: 1000, blockMaxTxs: 2000, maxPastMs: 7 * 86_400_000, maxFutureMs: 300_000, maxBacklog: 100_000, meterRatePerSecond: 50, meterBurst: 500,
    verifyWorkers: availableParallelism(),
  });
  assert.equal(c.log.level, 'info');
});

test('precedence: flags override env, env overrides the file, the file overrides defaults', (t) => {
  const d = tempDir(t);
  const file = join(d, 'gw.json');
  writeFileSync(file, JSON.stringify({
    dataDir: 'data', mqtt: { port: 1001, host: '0.0.0.0' }, http: { port: 2001 }, ledger: { blockIntervalMs: 500 }, log: { level: 'warn' },
  }));
  const env = { METERLEDGER_MQTT_PORT: '1002', METERLEDGER_HTTP_PORT: '2002', METERLEDGER_LOG_LEVEL: 'debug' };
  const c = loadConfig({ flags: { config: file, 'mqtt-port': '1003' }, env });
  assert.equal(c.mqtt.port, 1003, 'flag beats env');
  assert.equal(c.http.port, 2002, 'env beats file');
  assert.equal(c.log.level, 'debug', 'env beats file');
  assert.equal(c.mqtt.host, '0.0.0.0', 'file beats default');
  assert.equal(c.ledger.blockIntervalMs, 500, 'file beats default');
  assert.equal(c.ledger.blockMaxTxs, 2000, 'default when nobody sets it');
  assert.equal(c.dataDir, join(d, 'data'), 'relative paths in the file resolve against its folder');
});

test('<dataDir>/config.json is read when present and no --config is given', (t) => {
  const d = tempDir(t);
  writeFileSync(join(d, 'config.json'), JSON.stringify({ http: { port: 9999, adminToken: 'a-very-long-admin-token' } }), { mode: 0o600 });
  const c = loadConfig({ flags: { 'data-dir': d }, env: {} });
  assert.equal(c.http.port, 9999);
  assert.equal(c.http.adminToken, 'a-very-long-admin-token');
});

test('env names: METERLEDGER_BLOCK_INTERVAL_MS, METERLEDGER_DATA_DIR and booleans', () => {
  const c = loadConfig({
    env: { METERLEDGER_DATA_DIR: '/x', METERLEDGER_BLOCK_INTERVAL_MS: '250', METERLEDGER_MQTT_ALLOW_ANONYMOUS: 'true', METERLEDGER_VERIFY_WORKERS: '0' },
  });
  assert.equal(c.dataDir, '/x');
  assert.equal(c.ledger.blockIntervalMs, 250);
  assert.equal(c.mqtt.allowAnonymous, true);
  assert.equal(c.ledger.verifyWorkers, 0);
});

test('a missing data dir is an error naming dataDir', () => {
  assertInvalid(() => loadConfig({ env: {} }), 'dataDir', /--data-dir/);
});

test('bad values from flags and env name their field and where they came from', () => {
  const base = { 'data-dir': '/d' };
  assertInvalid(() => loadConfig({ flags: { ...base, 'mqtt-port': 'abc' } }), 'mqtt.port', /must be an integer 0\.\.65535.*--mqtt-port/);
  assertInvalid(() => loadConfig({ flags: { ...base, 'mqtt-port': '70000' } }), 'mqtt.port', /0\.\.65535/);
  assertInvalid(() => loadConfig({ flags: { ...base, 'http-port': '-1' } }), 'http.port');
  assertInvalid(() => loadConfig({ flags: { ...base, 'log-level': 'loud' } }), 'log.level', /one of/);
  assertInvalid(() => loadConfig({ flags: { ...base, 'mqtt-host': 'bad host!' } }), 'mqtt.host');
  assertInvalid(() => loadConfig({ flags: base, env: { METERLEDGER_BLOCK_INTERVAL_MS: '1.5' } }), 'ledger.blockIntervalMs', /METERLEDGER_BLOCK_INTERVAL_MS/);
  assertInvalid(() => loadConfig({ flags: base, env: { METERLEDGER_MQTT_ALLOW_ANONYMOUS: 'maybe' } }), 'mqtt.allowAnonymous', /true or false/);
  assertInvalid(() => loadConfig({ flags: base, env: { METERLEDGER_HTTP_ADMIN_TOKEN: 'short' } }), 'http.adminToken', /at least 16/);
  assertInvalid(() => loadConfig({ flags: base, env: { METERLEDGER_VERIFY_WORKERS: '1000' } }), 'ledger.verifyWorkers');
});

test('a secret is never echoed in the error', () => {
  assert.throws(() => loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_HTTP_ADMIN_TOKEN: 'sekrit' } }), (e: Error) => !e.message.includes('sekrit'));
});

test('the file: unknown fields, wrong types, bad JSON, TLS half-set, accounts, port clashes', (t) => {
  const d = tempDir(t);
  const load = (doc: unknown): unknown => {
    const f = join(d, 'c.json');
    writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return loadConfig({ file: f, flags: { 'data-dir': d }, env: {} });
  };
  assertInvalid(() => load({ mqtt: { prot: 1 } }), 'mqtt.prot', /unknown field/);
  assertInvalid(() => load({ color: 'blue' }), 'color', /unknown field/);
  assertInvalid(() => load({ mqtt: { port: '1883' } }), 'mqtt.port', /integer/);
  assertInvalid(() => load({ mqtt: 5 }), 'mqtt', /object/);
  assertInvalid(() => load('{nope'), 'config', /not JSON/);
  assertInvalid(() => load({ mqtt: { tls: { port: 8883, keyFile: 'k.pem' } } }), 'mqtt.tls.certFile', /required/);
  assertInvalid(() => load({ mqtt: { plaintext: false } }), 'mqtt.plaintext', /needs mqtt\.tls/);
  assertInvalid(() => load({ http: { tls: { keyFile: 'k.pem' } } }), 'http.tls.certFile', /required/);
  assertInvalid(() => load({ mqtt: { tokenMaxAgeMs: 10 } }), 'mqtt.tokenMaxAgeMs');
  assertInvalid(() => load({ mqtt: { maxPayloadBytes: 0 } }), 'mqtt.maxPayloadBytes');
  assertInvalid(() => load({ mqtt: { maxConnectionsPerListener: 0 } }), 'mqtt.maxConnectionsPerListener');
  assertInvalid(() => load({ mqtt: { maxSessionsPerMeter: 0 } }), 'mqtt.maxSessionsPerMeter');
  assertInvalid(() => load({ mqtt: { maxQueuedMessages: 0 } }), 'mqtt.maxQueuedMessages');
  assertInvalid(() => load({ mqtt: { sessionExpiryMs: 1000 } }), 'mqtt.sessionExpiryMs');
  assertInvalid(() => load({ mqtt: { accounts: {} } }), 'mqtt.accounts', /array/);
  assertInvalid(() => load({ mqtt: { accounts: [{ username: 'ops' }] } }), 'mqtt.accounts[0].passwordHash');
  assertInvalid(() => load({ mqtt: { accounts: [{ username: 'ops', passwordHash: 'x', publsh: [] }] } }), 'mqtt.accounts[0].publsh', /unknown field/);
  assertInvalid(() => load({ mqtt: { accounts: [{ username: 'ops', passwordHash: 'x', subscribe: [1] }] } }), 'mqtt.accounts[0].subscribe');
  assertInvalid(() => load({ mqtt: { port: 8080 } }), 'http.port', /already used by mqtt.port/);
  assertInvalid(() => load({ ledger: { blockMaxTxs: 0 } }), 'ledger.blockMaxTxs');
  assertInvalid(() => load({ ledger: { maxBacklog: -5 } }), 'ledger.maxBacklog');
  assertInvalid(() => load({ ledger: { maxPastMs: 'week' } }), 'ledger.maxPastMs');
  assertInvalid(() => load({ ledger: { maxFutureMs: null } }), 'ledger.maxFutureMs');
  assertInvalid(() => load({ mqtt: { ws: { port: 99999 } } }), 'mqtt.ws.port');
  assertInvalid(() => load({ mqtt: { allowAnonymous: 'yes' } }), 'mqtt.allowAnonymous');
  assertInvalid(() => loadConfig({ file: join(d, 'absent.json'), flags: { 'data-dir': d } }), 'config', /cannot read/);
});

test('a full file loads: TLS, WebSocket and accounts', (t) => {
  const d = tempDir(t);
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({
    dataDir: '.', mqtt: { tls: { port: 8883, keyFile: 'k.pem', certFile: 'c.pem' }, ws: { port: 8083 },
      accounts: [{ username: 'ops', passwordHash: 'h', subscribe: ['meters/+/receipts'] }] },
  }));
  const c = loadConfig({ file: f, env: {} });
  assert.deepEqual(c.mqtt.tls, { port: 8883, keyFile: join(d, 'k.pem'), certFile: join(d, 'c.pem') });
  assert.deepEqual(c.mqtt.ws, { port: 8083 });
  assert.deepEqual(c.mqtt.accounts, [{ username: 'ops', passwordHash: 'h', subscribe: ['meters/+/receipts'] }]);
});

test('CONFIG_REFERENCE: one row per field, unique env names, METERLEDGER_ prefix, and a Markdown table', () => {
  const fields = CONFIG_REFERENCE.map((f) => f.field);
  assert.equal(new Set(fields).size, fields.length);
  const envs = CONFIG_REFERENCE.flatMap((f) => (f.env ? [f.env] : []));
  assert.equal(new Set(envs).size, envs.length);
  for (const e of envs) assert.match(e, /^METERLEDGER_[A-Z0-9_]+$/);
  for (const f of ['dataDir', 'mqtt.port', 'http.adminToken', 'ledger.verifyWorkers', 'log.level', 'xmpp.service', 'xmpp.password', 'xmpp.tls.caFile', 'xmpp.reconnect.maxMs']) assert.ok(fields.includes(f), f);
  const md = configReferenceMarkdown();
  assert.equal(md.trim().split('\n').length, CONFIG_REFERENCE.length + 2);
  assert.match(md, /\| `mqtt\.port` \| `METERLEDGER_MQTT_PORT` \| `--mqtt-port` \| 1883 \|/);
  assert.match(md, /\| `xmpp\.password` \| `METERLEDGER_XMPP_PASSWORD` \| - \|/);
});

test('xmpp: off by default; a full section from the file, with defaults and paths resolved', (t) => {
  assert.equal(loadConfig({ flags: { 'data-dir': '/d' }, env: {} }).xmpp, undefined);
  const d = tempDir(t);
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({
    dataDir: '.', xmpp: { service: 'xmpp://127.0.0.1:5222', domain: 'site.example', username: 'gateway', password: 'pw with spaces', tls: { caFile: 'ca.pem' } },
  }), { mode: 0o600 });
  const c = loadConfig({ file: f, env: {} });
  assert.deepEqual(c.xmpp, {
    service: 'xmpp://127.0.0.1:5222', domain: 'site.example', username: 'gateway', password: 'pw with spaces',
    tls: { caFile: join(d, 'ca.pem'), rejectUnauthorized: true, allowPlaintext: false }, maxPayloadBytes: 4096, reconnect: { minMs: 1000, maxMs: 30_000 },
  });
});

test('xmpp: METERLEDGER_XMPP_* environment variables, over the file', (t) => {
  const d = tempDir(t);
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({ xmpp: { service: 'xmpps://old.example:5223', domain: 'site.example', username: 'gw', password: 'from-file' } }), { mode: 0o600 });
  const c = loadConfig({
    file: f, flags: { 'data-dir': d },
    env: {
      METERLEDGER_XMPP_SERVICE: 'xmpps://xmpp.site.example:5223', METERLEDGER_XMPP_PASSWORD: 'from-env', METERLEDGER_XMPP_RESOURCE: 'bridge-1',
      METERLEDGER_XMPP_TLS_CA_FILE: 'ca.pem', METERLEDGER_XMPP_TLS_REJECT_UNAUTHORIZED: 'false', METERLEDGER_XMPP_TLS_ALLOW_PLAINTEXT: 'true', METERLEDGER_XMPP_MAX_PAYLOAD_BYTES: '2048',
      METERLEDGER_XMPP_RECONNECT_MIN_MS: '200', METERLEDGER_XMPP_RECONNECT_MAX_MS: '5000',
    },
    cwd: '/work',
  });
  assert.deepEqual(c.xmpp, {
    service: 'xmpps://xmpp.site.example:5223', domain: 'site.example', username: 'gw', password: 'from-env', resource: 'bridge-1',
    tls: { caFile: '/work/ca.pem', rejectUnauthorized: false, allowPlaintext: true }, maxPayloadBytes: 2048, reconnect: { minMs: 200, maxMs: 5000 },
  });
});

test('xmpp: all or nothing; each missing login field is named, and the password never shows', () => {
  const full = {
    METERLEDGER_XMPP_SERVICE: 'xmpp://127.0.0.1:5222', METERLEDGER_XMPP_DOMAIN: 'site.example',
    METERLEDGER_XMPP_USERNAME: 'gateway', METERLEDGER_XMPP_PASSWORD: 'hunter2-secret',
  };
  const load = (env: Record<string, string>) => loadConfig({ flags: { 'data-dir': '/d' }, env });
  assert.equal(load(full).xmpp?.username, 'gateway');
  for (const [k, field] of [['SERVICE', 'service'], ['DOMAIN', 'domain'], ['USERNAME', 'username'], ['PASSWORD', 'password']] as const) {
    const env: Record<string, string> = { ...full };
    delete env[`METERLEDGER_XMPP_${k}`];
    assertInvalid(() => load(env), `xmpp.${field}`, /required when xmpp is used/);
    assert.throws(() => load(env), (e: Error) => !e.message.includes('hunter2-secret'));
  }
  // Only the password set: the service is the first field missing.
  assertInvalid(() => load({ METERLEDGER_XMPP_PASSWORD: 'hunter2-secret' }), 'xmpp.service', /xmpp\.password set/);
  // Any xmpp.* field enables the section.
  assertInvalid(() => load({ METERLEDGER_XMPP_TLS_CA_FILE: '/ca.pem' }), 'xmpp.service', /xmpp\.tls\.caFile set/);
  assert.throws(() => load({ ...full, METERLEDGER_XMPP_PASSWORD: '' }), (e: Error) => e instanceof ConfigError && e.field === 'xmpp.password');
});

test('xmpp: bad values name their field', (t) => {
  const d = tempDir(t);
  const base = { service: 'xmpp://127.0.0.1:5222', domain: 'site.example', username: 'gateway', password: 'pw' };
  const load = (xmpp: Record<string, unknown>): unknown => {
    const f = join(d, 'c.json');
    writeFileSync(f, JSON.stringify({ xmpp: { ...base, ...xmpp } }), { mode: 0o600 });
    return loadConfig({ file: f, flags: { 'data-dir': d }, env: {} });
  };
  assertInvalid(() => load({ service: 'http://127.0.0.1:5222' }), 'xmpp.service', /xmpp:\/\/ or xmpps:\/\//);
  assertInvalid(() => load({ service: 'xmpp://user:pw@host:5222' }), 'xmpp.service');
  assertInvalid(() => load({ service: 'not a url' }), 'xmpp.service');
  assertInvalid(() => load({ domain: 'bad domain' }), 'xmpp.domain', /domain name/);
  assertInvalid(() => load({ domain: 'site.example/res' }), 'xmpp.domain');
  assertInvalid(() => load({ username: 'gw@site.example' }), 'xmpp.username', /local part/);
  assertInvalid(() => load({ username: '' }), 'xmpp.username');
  assertInvalid(() => load({ password: 42 }), 'xmpp.password');
  assertInvalid(() => load({ resource: '' }), 'xmpp.resource');
  assertInvalid(() => load({ tls: { rejectUnauthorized: 'no' } }), 'xmpp.tls.rejectUnauthorized', /true or false/);
  assertInvalid(() => load({ tls: { caFile: '' } }), 'xmpp.tls.caFile');
  assertInvalid(() => load({ tls: { ca: 'PEM' } }), 'xmpp.tls.ca', /unknown field/);
  assertInvalid(() => load({ maxPayloadBytes: 10 }), 'xmpp.maxPayloadBytes');
  assertInvalid(() => load({ reconnect: { minMs: 0 } }), 'xmpp.reconnect.minMs');
  assertInvalid(() => load({ reconnect: { minMs: 5000, maxMs: 1000 } }), 'xmpp.reconnect.maxMs', /at least xmpp\.reconnect\.minMs/);
  assertInvalid(() => load({ jid: 'gw@site.example' }), 'xmpp.jid', /unknown field/);
  assert.throws(() => load({ password: 'sekrit-value', maxPayloadBytes: 'big' }), (e: Error) => !e.message.includes('sekrit-value'));
  // The service is normalised to scheme://host[:port]; IPv6 and default ports are fine.
  assert.equal((load({ service: 'xmpps://[::1]:5223/' }) as { xmpp: { service: string } }).xmpp.service, 'xmpps://[::1]:5223');
  assert.equal((load({ service: 'xmpp://xmpp.site.example' }) as { xmpp: { service: string } }).xmpp.service, 'xmpp://xmpp.site.example');
});

test('nats: reconnect backoff and message window with their defaults; bad values name their field', (t) => {
  const d = tempDir(t);
  const load = (nats: Record<string, unknown>) => {
    const f = join(d, 'c.json');
    writeFileSync(f, JSON.stringify({ nats: { servers: ['nats://127.0.0.1:4222'], ...nats } }), { mode: 0o600 }); // may hold nats.pass
    return loadConfig({ file: f, flags: { 'data-dir': d }, env: {} });
  };
  const n = load({}).nats!;
  assert.deepEqual({ reconnect: n.reconnect, messageWindowMs: n.messageWindowMs }, { reconnect: { minMs: 500, maxMs: 30_000 }, messageWindowMs: 30_000 });
  assert.deepEqual(load({ reconnect: { minMs: 100, maxMs: 2000 }, messageWindowMs: 5000 }).nats!.reconnect, { minMs: 100, maxMs: 2000 });
  assert.equal(loadConfig({ flags: { 'data-dir': d }, env: { METERLEDGER_NATS_SERVERS: 'nats://h:1', METERLEDGER_NATS_MESSAGE_WINDOW_MS: '60000' } }).nats!.messageWindowMs, 60_000);
  assertInvalid(() => load({ reconnect: { minMs: 5000, maxMs: 1000 } }), 'nats.reconnect.maxMs', /at least nats\.reconnect\.minMs/);
  assertInvalid(() => load({ reconnect: { minMs: 0 } }), 'nats.reconnect.minMs');
  assertInvalid(() => load({ messageWindowMs: 10 }), 'nats.messageWindowMs');
  assertInvalid(() => load({ servers: ['nats://u:p@127.0.0.1:4222'], user: 'u', pass: 'p' }), 'nats.servers', /give them once/);
});

test('nats: a password in a server URL is never echoed, not even in the error for a bad list', () => {
  const env = { METERLEDGER_NATS_SERVERS: 'nats://gw:hunter2-secret@127.0.0.1:4222,ftp://x' };
  assert.throws(() => loadConfig({ flags: { 'data-dir': '/d' }, env }), (e: Error) => e instanceof ConfigError && e.field === 'nats.servers' && !e.message.includes('hunter2') && e.message.includes('gw:***@'));
});

test('each default is written once: the config shows the node\'s, the bridges\' and consensus\' own', () => {
  const c = loadConfig({ flags: { 'data-dir': '/d' }, env: {} });
  const { verifyWorkers, ...plain } = NODE_DEFAULTS;
  assert.deepEqual({ ...c.ledger, verifyWorkers: undefined }, { ...plain, verifyWorkers: undefined });
  assert.equal(c.ledger.verifyWorkers, verifyWorkers());
  assert.equal(c.mqtt.tokenMaxAgeMs, DEFAULT_TOKEN_MAX_AGE_MS);
  assert.equal(c.mqtt.maxPayloadBytes, MQTT_MAX_PAYLOAD_BYTES);
  assert.deepEqual(c.consensus, {
    proposeTimeoutMs: DEFAULT_TIMEOUTS.proposeBaseMs, prevoteTimeoutMs: DEFAULT_TIMEOUTS.prevoteBaseMs, precommitTimeoutMs: DEFAULT_TIMEOUTS.precommitBaseMs,
  });
  const x = loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_XMPP_SERVICE: 'xmpp://h', METERLEDGER_XMPP_DOMAIN: 'h', METERLEDGER_XMPP_USERNAME: 'g', METERLEDGER_XMPP_PASSWORD: 'p' } });
  assert.equal(x.xmpp?.maxPayloadBytes, XMPP_MAX_PAYLOAD_BYTES);
  assert.deepEqual(x.xmpp?.reconnect, DEFAULT_BACKOFF);
  const n = loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_NATS_SERVERS: 'nats://127.0.0.1:4222' } }).nats!;
  assert.deepEqual([n.reconnect, n.messageWindowMs], [DEFAULT_RECONNECT, DEFAULT_WINDOW_MS]);
  // The reference shows the same values.
  const shown = (f: string) => CONFIG_REFERENCE.find((r) => r.field === f)!.default;
  assert.equal(shown('ledger.blockIntervalMs'), String(NODE_DEFAULTS.blockIntervalMs));
  assert.equal(shown('ledger.maxPastMs'), `${NODE_DEFAULTS.maxPastMs} (7 days)`);
  assert.equal(shown('mqtt.tokenMaxAgeMs'), String(DEFAULT_TOKEN_MAX_AGE_MS));
  assert.equal(shown('consensus.prevoteTimeoutMs'), String(DEFAULT_TIMEOUTS.prevoteBaseMs));
});

test('an unknown METERLEDGER_* variable is refused like an unknown file field, with the nearest name', () => {
  assertInvalid(() => loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_MQTT_PROT: '1883' } }), 'METERLEDGER_MQTT_PROT', /unknown environment variable; did you mean METERLEDGER_MQTT_PORT\?/);
  assertInvalid(() => loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_COLOUR: 'blue' } }), 'METERLEDGER_COLOUR', /^METERLEDGER_COLOUR: unknown environment variable \(/);
  // The config file's variable, the CLI clients' ones and other programs' variables are fine.
  const c = loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_URL: 'http://127.0.0.1:8080', HOME: '/root', METERLEDGER: 'x', METERLEDGER_HTTP_ADMIN_TOKEN_FILE: undefined } });
  assert.equal(c.dataDir, '/d');
});

test('resolveConfig names the source of every value: default, file, env or flag', (t) => {
  const d = tempDir(t);
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({ mqtt: { port: 1001 }, ledger: { blockMaxTxs: 7 } }));
  const r = resolveConfig({ file: f, flags: { 'data-dir': d, 'http-port': '2003' }, env: { METERLEDGER_BLOCK_MAX_TXS: '9' } });
  assert.equal(r.file, f);
  assert.deepEqual(r.values.get('mqtt.port'), { value: 1001, source: { from: 'file', where: f } });
  assert.deepEqual(r.values.get('ledger.blockMaxTxs'), { value: 9, source: { from: 'env', where: 'METERLEDGER_BLOCK_MAX_TXS' } });
  assert.deepEqual(r.values.get('http.port'), { value: 2003, source: { from: 'flag', where: '--http-port' } });
  assert.deepEqual(r.values.get('mqtt.host'), { value: '127.0.0.1', source: { from: 'default' } });
  assert.equal(r.values.get('mqtt.tls.port')?.value, undefined);
  assert.equal(r.values.size, CONFIG_REFERENCE.length);
});

test('a config file holding a secret must be private: 0644 is refused with E_KEY_PERMISSIONS, 0600 and root\'s 0640 are fine', (t) => {
  const d = tempDir(t);
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({ http: { adminToken: 'a-long-enough-admin-token' }, nats: { servers: ['nats://127.0.0.1:4222'], pass: 'p', user: 'u' } }), { mode: 0o644 });
  chmodSync(f, 0o644);
  const load = () => loadConfig({ file: f, flags: { 'data-dir': d }, env: {} });
  assert.throws(load, (e: GatewayError) => {
    assert.equal(e.code, 'E_KEY_PERMISSIONS');
    assert.match(e.message, /holds http\.adminToken, nats\.pass and is readable by others \(mode 644\); run chmod 600/);
    assert.match(e.message, /METERLEDGER_HTTP_ADMIN_TOKEN, METERLEDGER_NATS_PASS/);
    assert.doesNotMatch(e.message, /a-long-enough-admin-token/);
    return true;
  });
  chmodSync(f, 0o600);
  assert.equal(load().http.adminToken, 'a-long-enough-admin-token');
  chmodSync(f, 0o640);
  if (process.getuid?.() === 0) {
    assert.equal(statSync(f).uid, 0);
    assert.equal(load().http.adminToken, 'a-long-enough-admin-token', 'root\'s file, readable by its group');
    chownSync(f, 65534, 65534);
    assert.throws(load, { code: 'E_KEY_PERMISSIONS', message: /^.* readable by others \(mode 640\)/ }, 'another owner\'s file must be 0600');
  } else {
    assert.throws(load, { code: 'E_KEY_PERMISSIONS' });
  }
  // Without a secret, a world-readable file is fine.
  writeFileSync(join(d, 'plain.json'), JSON.stringify({ mqtt: { port: 1999 } }), { mode: 0o644 });
  assert.equal(loadConfig({ file: join(d, 'plain.json'), flags: { 'data-dir': d }, env: {} }).mqtt.port, 1999);
});

test('http.adminTokenFile: the token from a private file; not with http.adminToken; at least 16 characters', (t) => {
  const d = tempDir(t);
  const tf = join(d, 'admin.token');
  writeFileSync(tf, 'token-from-a-file-0123\n', { mode: 0o600 });
  const load = (env: Record<string, string>) => loadConfig({ flags: { 'data-dir': d }, env });
  assert.deepEqual(load({ METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tf }).http, { host: '127.0.0.1', port: 8080, sessionTtlMs: 900_000, adminToken: 'token-from-a-file-0123' });
  assertInvalid(() => load({ METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tf, METERLEDGER_HTTP_ADMIN_TOKEN: 'another-long-token-0' }), 'http.adminTokenFile', /not both/);
  chmodSync(tf, 0o604);
  assert.throws(() => load({ METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tf }), { code: 'E_KEY_PERMISSIONS', message: /^.*admin\.token \(admin token file\) is readable by others/ });
  writeFileSync(join(d, 'short.token'), 'short\n', { mode: 0o600 });
  assertInvalid(() => load({ METERLEDGER_HTTP_ADMIN_TOKEN_FILE: join(d, 'short.token') }), 'http.adminTokenFile', /at least 16/);
  assert.throws(() => load({ METERLEDGER_HTTP_ADMIN_TOKEN_FILE: join(d, 'absent') }), { code: 'E_KEY_MISSING', message: /^no admin token file at/ });
});

test('nats.nkeySeedFile must be private: a world-readable seed is refused', (t) => {
  const d = tempDir(t);
  const seed = join(d, 'user.nk');
  writeFileSync(seed, `SU${'A'.repeat(56)}\n`, { mode: 0o644 });
  chmodSync(seed, 0o644);
  const env = { METERLEDGER_NATS_SERVERS: 'nats://127.0.0.1:4222', METERLEDGER_NATS_NKEY_SEED_FILE: seed };
  assert.throws(() => loadConfig({ flags: { 'data-dir': d }, env }), { code: 'E_KEY_PERMISSIONS', message: /^.*user\.nk \(NATS nkey seed file\) is readable by others \(mode 644\)/ });
  chmodSync(seed, 0o600);
  assert.deepEqual(loadConfig({ flags: { 'data-dir': d }, env }).nats?.auth, { nkeySeed: `SU${'A'.repeat(56)}` });
});

test('checkConfigFiles: the TLS key must be private, every file named must be readable', (t) => {
  const d = tempDir(t);
  writeFileSync(join(d, 'k.pem'), 'KEY', { mode: 0o644 });
  chmodSync(join(d, 'k.pem'), 0o644);
  writeFileSync(join(d, 'c.pem'), 'CERT', { mode: 0o644 });
  const env = { METERLEDGER_MQTT_TLS_PORT: '8883', METERLEDGER_MQTT_TLS_KEY_FILE: join(d, 'k.pem'), METERLEDGER_MQTT_TLS_CERT_FILE: join(d, 'c.pem') };
  const loaded = resolveConfig({ flags: { 'data-dir': d }, env });
  assert.deepEqual(configFiles(loaded).map((f) => [f.field, f.kind]), [['mqtt.tls.keyFile', 'private'], ['mqtt.tls.certFile', 'read']]);
  assert.throws(() => checkConfigFiles(loaded), { code: 'E_KEY_PERMISSIONS', message: /^.*k\.pem \(file for mqtt\.tls\.keyFile\) is readable by others \(mode 644\)/ });
  chmodSync(join(d, 'k.pem'), 0o600);
  checkConfigFiles(loaded);
  rmSync(join(d, 'c.pem'));
  assertInvalid(() => checkConfigFiles(loaded), 'mqtt.tls.certFile', /cannot read .*c\.pem: no such file or directory \(ENOENT\)/);
});

test('log.format: json off a terminal by default; text or json when asked', () => {
  assert.equal(process.stderr.isTTY === true ? 'text' : 'json', loadConfig({ flags: { 'data-dir': '/d' }, env: {} }).log.format);
  assert.equal(loadConfig({ flags: { 'data-dir': '/d', 'log-format': 'text' }, env: {} }).log.format, 'text');
  assert.equal(loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_LOG_FORMAT: 'json' } }).log.format, 'json');
  assertInvalid(() => loadConfig({ flags: { 'data-dir': '/d', 'log-format': 'pretty' }, env: {} }), 'log.format', /one of text, json/);
});

test('xmpp.reconnect: unset, the longest delay follows a first delay above its default', () => {
  const env = { METERLEDGER_XMPP_SERVICE: 'xmpp://h', METERLEDGER_XMPP_DOMAIN: 'h', METERLEDGER_XMPP_USERNAME: 'g', METERLEDGER_XMPP_PASSWORD: 'p', METERLEDGER_XMPP_RECONNECT_MIN_MS: '45000' };
  assert.deepEqual(loadConfig({ flags: { 'data-dir': '/d' }, env }).xmpp?.reconnect, { minMs: 45_000, maxMs: 45_000 });
});

test('credentials inside a NATS URL are never echoed in an error', () => {
  assertInvalid(() => loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_NATS_SERVERS: 'http://gw:url-secret@127.0.0.1:4222' } }), 'nats.servers', /got "http:\/\/gw:\*\*\*@127\.0\.0\.1:4222"/);
  assert.throws(() => loadConfig({ flags: { 'data-dir': '/d' }, env: { METERLEDGER_NATS_SERVERS: 'http://gw:url-secret@127.0.0.1:4222' } }), (e: Error) => !e.message.includes('url-secret'));
});
