/** The CLI as a new user meets it: `config show|check`, and "did you mean". */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevChain } from '../../../ledger-node/devchain.js';
import { cli as run } from '../../helpers/gateway-process.js';

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
