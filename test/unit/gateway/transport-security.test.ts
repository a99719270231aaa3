/**
 * Which listeners and connections the gateway warns about at start (W_PLAINTEXT), and
 * when the XMPP bridge insists on TLS: everything in clear that leaves loopback, nothing
 * that stays on it or is encrypted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../gateway/config.js';
import { isLoopbackHost, plaintextWarnings, xmppTlsRequired } from '../../../gateway/transport-security.js';

test('loopback: 127.0.0.0/8, ::1 in any spelling, IPv4-mapped 127.x and localhost; nothing else', () => {
  for (const h of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'gw.localhost']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'gateway.site.example', '1.127.0.0', 'localhost.example']) assert.ok(!isLoopbackHost(h), h);
});

function config(t: { after(fn: () => void): void }, file: Record<string, unknown>) {
  const d = mkdtempSync(join(tmpdir(), 'ml-tls-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (const f of ['k.pem', 'c.pem']) writeFileSync(join(d, f), 'pem', { mode: 0o600 });
  const f = join(d, 'c.json');
  writeFileSync(f, JSON.stringify({ dataDir: '.', ...file }), { mode: 0o600 });
  return loadConfig({ file: f, env: {} });
}

test('the defaults (everything on loopback) warn about nothing', (t) => {
  assert.deepEqual(plaintextWarnings(config(t, {})), []);
});

test('every plain-text listener or connection beyond loopback is named with its setting', (t) => {
  const c = config(t, {
    mqtt: { host: '0.0.0.0', ws: { port: 8083 } },
    http: { host: '192.0.2.10' },
    nats: { servers: ['nats://127.0.0.1:4222', 'nats://hub.example:4222', 'tls://hub2.example:4222'] },
    xmpp: { service: 'xmpp://xmpp.site.example:5222', domain: 'site.example', username: 'gw', password: 'pw', tls: { allowPlaintext: true } },
  });
  assert.deepEqual(plaintextWarnings(c).map((w) => [w.setting, w.address]), [
    ['mqtt.port', 'mqtt://0.0.0.0:1883'],
    ['mqtt.ws.port', 'ws://0.0.0.0:8083'],
    ['http.port', 'http://192.0.2.10:8080'],
    ['nats.servers', 'nats://hub.example:4222'],
    ['xmpp.tls.allowPlaintext', 'xmpp://xmpp.site.example:5222'],
  ]);
});

test('the production shape (TLS listeners, no plain MQTT, TLS to NATS) warns about nothing', (t) => {
  const c = config(t, {
    mqtt: { host: '0.0.0.0', plaintext: false, tls: { port: 8883, keyFile: 'k.pem', certFile: 'c.pem' } },
    http: { host: '0.0.0.0', tls: { keyFile: 'k.pem', certFile: 'c.pem' } },
    nats: { servers: ['nats://hub.example:4222'], tls: { caFile: 'c.pem' } },
    xmpp: { service: 'xmpp://xmpp.site.example:5222', domain: 'site.example', username: 'gw', password: 'pw' },
  });
  assert.deepEqual(plaintextWarnings(c), []);
  assert.equal(c.mqtt.plaintext, false);
});

test('XMPP: TLS is required off loopback unless allowed; a loopback server may be plain', (t) => {
  const x = (service: string, allowPlaintext?: boolean) => config(t, {
    xmpp: { service, domain: 'site.example', username: 'gw', password: 'pw', ...(allowPlaintext !== undefined ? { tls: { allowPlaintext } } : {}) },
  }).xmpp!;
  assert.equal(xmppTlsRequired(x('xmpp://xmpp.site.example:5222')), true);
  assert.equal(xmppTlsRequired(x('xmpps://xmpp.site.example:5223')), true);
  assert.equal(xmppTlsRequired(x('xmpp://xmpp.site.example:5222', true)), false);
  assert.equal(xmppTlsRequired(x('xmpp://127.0.0.1:5222')), false);
  assert.equal(xmppTlsRequired(x('xmpp://[::1]:5222')), false);
});
