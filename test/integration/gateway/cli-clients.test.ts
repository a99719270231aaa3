/**
 * The CLI as a new user meets it: `config show|check`, "did you mean", secrets that never go
 * on a command line (the admin token from a file or the environment, the gateway URL from
 * METERLEDGER_URL), and testnet's ports and host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevChain } from '../../../ledger-node/devchain.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { startHttpApi } from '../../../gateway/http/server.js';
import { cli as run } from '../../helpers/gateway-process.js';
import { makeFakeLedger } from '../../helpers/fake-ledger.js';

/** The CLI with a clean environment: PATH and `env` only. */
const cli = (args: string[], env: Record<string, string> = {}) => run(args, { env, clean: true, timeoutMs: 20_000 });

let dir: string;
let dataDir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-cli-clients-'));
  dataDir = join(dir, 'chain');
  initDevChain(dataDir, { meters: 1, chainId: 'clients-test' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('config show: every setting with its value and source; secrets masked', { timeout: 30_000 }, async () => {
  const cfg = join(dataDir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ mqtt: { port: 1999 }, xmpp: { service: 'xmpp://127.0.0.1:5222', domain: 'site.example', username: 'gw', password: 'xmpp-pass-in-file' } }), { mode: 0o600 });
  try {
    const r = await cli(['config', 'show', '--data-dir', dataDir, '--http-port', '9001'], { METERLEDGER_HTTP_ADMIN_TOKEN: 'token-in-the-environment' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^# config file: ${cfg}\n`));
    const line = (field: string): string => r.stdout.split('\n').find((l) => l.startsWith(`${field} `)) ?? '';
    assert.match(line('mqtt.port'), /^mqtt\.port +1999 +file$/);
    assert.match(line('http.port'), /^http\.port +9001 +flag --http-port$/);
    assert.match(line('http.adminToken'), /^http\.adminToken +\*{8} +env METERLEDGER_HTTP_ADMIN_TOKEN$/);
    assert.match(line('xmpp.password'), /^xmpp\.password +\*{8} +file$/);
    assert.match(line('mqtt.host'), /^mqtt\.host +127\.0\.0\.1 +default$/);
    assert.match(line('mqtt.tls.port'), /^mqtt\.tls\.port +\(unset\)$/);
    assert.doesNotMatch(r.stdout, /token-in-the-environment|xmpp-pass-in-file/);
    const j = await cli(['config', 'show', '--data-dir', dataDir, '--json'], { METERLEDGER_HTTP_ADMIN_TOKEN: 'token-in-the-environment' });
    const doc = JSON.parse(j.stdout) as { file: string; settings: Record<string, { value: unknown; source: string; where?: string }> };
    assert.equal(doc.file, cfg);
    assert.deepEqual(doc.settings['mqtt.port'], { value: 1999, source: 'file', where: cfg });
    assert.deepEqual(doc.settings['http.adminToken'], { value: '********', source: 'env', where: 'METERLEDGER_HTTP_ADMIN_TOKEN' });
    assert.deepEqual(doc.settings['ledger.blockIntervalMs'], { value: 1000, source: 'default' });
    // Credentials inside a URL are hidden too.
    const nats = await cli(['config', 'show', '--data-dir', dataDir], { METERLEDGER_NATS_SERVERS: 'nats://gw:nats-secret-pw@127.0.0.1:4222,nats://127.0.0.1:4223' });
    assert.equal(nats.code, 0, nats.stderr);
    assert.match(nats.stdout, /^nats\.servers +\["nats:\/\/gw:\*\*\*@127\.0\.0\.1:4222","nats:\/\/127\.0\.0\.1:4223"\] +env METERLEDGER_NATS_SERVERS$/m);
    assert.doesNotMatch(nats.stdout, /nats-secret-pw/);
  } finally {
    rmSync(cfg);
  }
});

test('config check: ok without starting anything; the first problem with its code', { timeout: 30_000 }, async () => {
  const d = join(dir, 'check');
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ dataDir: d, mqtt: { port: 1999 } }));
  const ok = await cli(['config', 'check', '--config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^ok: .*good\.json \(2 settings from the file, 0 from the environment, 0 from flags/);
  assert.equal(existsSync(d), false, 'nothing is created');
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ dataDir: d, mqtt: { port: 1999, tls: { port: 8883, keyFile: 'k.pem' } } }));
  const r = await cli(['config', 'check', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: E_CONFIG_INVALID: mqtt\.tls\.certFile: required when mqtt\.tls is used/);
  // The files it names are checked too: a TLS key others can read is refused.
  writeFileSync(join(dir, 'k.pem'), 'KEY');
  chmodSync(join(dir, 'k.pem'), 0o644);
  writeFileSync(join(dir, 'c.pem'), 'CERT');
  writeFileSync(bad, JSON.stringify({ dataDir: d, mqtt: { tls: { port: 8883, keyFile: 'k.pem', certFile: 'c.pem' } } }));
  const key = await cli(['config', 'check', '--config', bad]);
  assert.equal(key.code, 1);
  assert.match(key.stderr, /^error: E_KEY_PERMISSIONS: .*k\.pem \(file for mqtt\.tls\.keyFile\) is readable by others \(mode 644\)/);
  const env = await cli(['config', 'check', '--config', good], { METERLEDGER_HTTP_PROT: '1' });
  assert.equal(env.code, 1);
  assert.match(env.stderr, /^error: E_CONFIG_INVALID: METERLEDGER_HTTP_PROT: unknown environment variable; did you mean METERLEDGER_HTTP_PORT\?/);
});

test('a mistyped command or flag gets "did you mean"', { timeout: 30_000 }, async () => {
  for (const [args, hint] of [
    [['simlate'], /unknown command "simlate"; did you mean "meterledger simulate"\?/],
    [['veryfy'], /did you mean "meterledger verify"\?/],
    [['meters', 'token'], /did you mean "meterledger meter"\?/],
    [['meter', 'tokn'], /unknown command "meterledger meter tokn"; did you mean "meterledger meter token"\?/],
    [['start', '--mqtt-prot', '1'], /Unknown option '--mqtt-prot'; did you mean --mqtt-port\?/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, hint);
  }
  const far = await cli(['frobnicate']);
  assert.doesNotMatch(far.stderr, /did you mean/, 'no guess when nothing is near');
});

test('operator commands: the admin token from a private file or the environment, never a flag; the URL from METERLEDGER_URL', { timeout: 60_000 }, async () => {
  const token = 'the-admin-token-0123456789';
  const node = makeFakeLedger();
  const api = await startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0,
    adminToken: token, logger: silentLogger,
  }, '127.0.0.1', 0);
  try {
    const revoke = ['meter', 'revoke', '--data-dir', dataDir, '--meter', 'meter-0001'];
    const onCmdLine = await cli([...revoke, '--http', api.url, '--admin-token', token]);
    assert.equal(onCmdLine.code, 2);
    assert.match(onCmdLine.stderr, /^error: E_USAGE: --admin-token is not accepted: a secret on the command line is visible to every local user \(ps\); .*--admin-token-file F/);
    assert.equal(node.submitted.length, 0);

    const none = await cli([...revoke, '--http', api.url]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no admin token: pass --admin-token-file F .*METERLEDGER_HTTP_ADMIN_TOKEN/);

    const fromEnv = await cli(revoke, { METERLEDGER_URL: api.url, METERLEDGER_HTTP_ADMIN_TOKEN: token });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /^accepted: revoke meter-0001/);

    const file = join(dir, 'admin.token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const fromFile = await cli([...revoke, '--admin-token-file', file], { METERLEDGER_URL: api.url });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const fromFileEnv = await cli(revoke, { METERLEDGER_URL: api.url, METERLEDGER_HTTP_ADMIN_TOKEN_FILE: file });
    assert.equal(fromFileEnv.code, 0, fromFileEnv.stderr);
    assert.equal(node.submitted.length, 3);

    chmodSync(file, 0o644);
    const open = await cli([...revoke, '--admin-token-file', file], { METERLEDGER_URL: api.url });
    assert.equal(open.code, 1);
    assert.match(open.stderr, /^error: E_KEY_PERMISSIONS: .*admin\.token \(admin token file\) is readable by others \(mode 644\)/);

    const wrong = await cli(revoke, { METERLEDGER_URL: api.url, METERLEDGER_HTTP_ADMIN_TOKEN: 'a-wrong-token-0123456789' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: E_HTTP_FORBIDDEN: /);

    const noUrl = await cli(revoke, { METERLEDGER_HTTP_ADMIN_TOKEN: token });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /missing --http URL, or set METERLEDGER_URL/);
    assert.equal(node.submitted.length, 3);
    // verify takes the gateway from METERLEDGER_URL too, and the token its raw blocks need from the environment.
    const g = join(dir, 'fake-genesis.json');
    writeFileSync(g, JSON.stringify(node.genesis));
    const anonymous = await cli(['verify', '--genesis', g], { METERLEDGER_URL: api.url });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /E_HTTP_UNAUTHORIZED/);
    const v = await cli(['verify', '--genesis', g], { METERLEDGER_URL: api.url, METERLEDGER_HTTP_ADMIN_TOKEN: token });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, 'ok: 1 blocks, 2 transactions\n');
  } finally {
    await api.close();
  }
  // No command takes a secret as a flag value.
  const { COMMANDS } = await import('../../../gateway/cli/commands/index.js');
  for (const c of COMMANDS) {
    const spec = await c.load();
    for (const name of Object.keys(spec.options)) assert.doesNotMatch(name, /(token|password|pass|secret|seed)$/, `${c.name} --${name}`);
  }
});

test('testnet: --host and base ports for MQTT and HTTP; overlapping ranges refused', { timeout: 60_000 }, async () => {
  const out = join(dir, 'net');
  const r = await cli(['testnet', '--validators', '2', '--observers', '1', '--meters', '1', '--out', out, '--host', '127.0.0.2', '--mqtt-base-port', '21883', '--http-base-port', '28080']);
  assert.equal(r.code, 0, r.stderr);
  for (const i of [0, 1, 2]) {
    const c = JSON.parse(readFileSync(join(out, `node${i}`, 'config.json'), 'utf8'));
    assert.deepEqual(c.mqtt, { host: '127.0.0.2', port: 21883 + i });
    assert.deepEqual(c.http, { host: '127.0.0.2', port: 28080 + i });
  }
  assert.match(r.stdout, /mqtt 127\.0\.0\.2:21885, http 127\.0\.0\.2:28082/);
  const clash = await cli(['testnet', '--validators', '4', '--out', join(dir, 'net2'), '--mqtt-base-port', '9000', '--http-base-port', '9002']);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /MQTT ports 9000\.\.9003 and HTTP ports 9002\.\.9005 overlap/);
  assert.equal(existsSync(join(dir, 'net2')), false, 'nothing written');
  const high = await cli(['testnet', '--validators', '4', '--out', join(dir, 'net3'), '--mqtt-base-port', '65534']);
  assert.equal(high.code, 2);
  assert.match(high.stderr, /--mqtt-base-port must be an integer 1\.\.65532/);
  // The defaults stay 1883+i and 8080+i on 127.0.0.1.
  const dflt = await cli(['testnet', '--validators', '1', '--meters', '0', '--out', join(dir, 'net4')]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.deepEqual(readdirSync(join(dir, 'net4')), ['node0']);
  const c0 = JSON.parse(readFileSync(join(dir, 'net4', 'node0', 'config.json'), 'utf8'));
  assert.deepEqual([c0.mqtt, c0.http], [{ host: '127.0.0.1', port: 1883 }, { host: '127.0.0.1', port: 8080 }]);
});
