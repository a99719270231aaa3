/**
 * The listeners (bridge/mqtt/listeners.ts, the only code with sockets): close() stops
 * every one, a port in use fails start(), a TLS handshake or WebSocket upgrade gets the
 * same time as CONNECT on plain TCP (slowloris), and each listener holds a bounded number
 * of sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { DEFAULT_CONNECT_TIMEOUT_MS, MqttBroker } from '../../../bridge/mqtt/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { type Pem, makeCert } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/until.js';
import { HOST, baseOptions, connectMeter, end } from './support.js';

const T = { timeout: 30_000 };

/** A TCP socket to `port` that sends `bytes` (if any) and then nothing; resolves once connected. */
async function idle(port: number, bytes?: string): Promise<Socket & { closedAt?: number }> {
  const s: Socket & { closedAt?: number } = netConnect(port, HOST);
  s.on('error', () => undefined);
  s.once('close', () => (s.closedAt = Date.now()));
  s.resume(); // read what comes, so that the end is seen
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  if (bytes) s.write(bytes);
  return s;
}

const refused = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = netConnect(port, HOST);
  s.once('connect', () => (s.destroy(), resolve(false)));
  s.once('error', () => resolve(true));
});

describe('MQTT listeners', { timeout: 120_000 }, () => {
  let dir: string;
  let server: Pem;
  const sockets: Socket[] = [];
  const clients: MqttClient[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-listeners-'));
    server = makeCert(dir, 'server', 'ec', 'localhost');
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await end(...clients);
    rmSync(dir, { recursive: true, force: true });
  });

  test('close(): stops accepting on every listener', T, async (t) => {
    const intake = await TestIntake.open(['m1']);
    t.after(() => intake.close());
    const broker = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 }, ws: { host: HOST, port: 0 } });
    const { tcp, ws } = broker.addresses();
    assert.ok(tcp! > 0 && ws! > 0 && tcp !== ws);
    const c = await connectMeter(tcp!, intake, 'm1');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await broker.close();
    await closed;
    assert.equal(await refused(tcp!), true);
    assert.equal(await refused(ws!), true);
    await end(c);
  });

  test('a port in use fails start() and leaves nothing behind', T, async (t) => {
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    const first = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 } });
    try {
      await assert.rejects(MqttBroker.start({ intake, ws: { host: HOST, port: 0 }, tcp: { host: HOST, port: first.addresses().tcp! } }), /EADDRINUSE/);
      assert.equal(intake.listenerCount(), 1);
    } finally {
      await first.close();
    }
  });

  test('slowloris: an unfinished TLS handshake or WebSocket upgrade is closed after connectTimeoutMs, as a silent TCP client is', T, async (t) => {
    assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, 10_000, 'the plain port\'s limit');
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    const broker = await MqttBroker.start({
      intake, connectTimeoutMs: 500,
      tcp: { host: HOST, port: 0 }, tls: { host: HOST, port: 0, key: server.key, cert: server.cert }, ws: { host: HOST, port: 0 },
    });
    try {
      const { tcp, tls, ws } = broker.addresses();
      const opened = Date.now();
      const held = [
        await idle(tcp!), // no CONNECT
        await idle(tls!), // no ClientHello
        await idle(tls!, '\x16\x03\x01\x00\xc8\x01'), // half a ClientHello
        await idle(ws!), // no request
        await idle(ws!, 'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'), // headers never end
      ];
      const plainHttp = await idle(ws!, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // not an upgrade: 426 and closed
      sockets.push(...held, plainHttp);
      // Node's own limits would be 120 s (TLS) and 60-300 s (HTTP headers, request).
      await until('every held socket closed by the broker', () => [...held, plainHttp].every((s) => s.closedAt !== undefined), 15_000, 50);
      for (const s of held) assert.ok(s.closedAt! - opened >= 400, 'not before the limit');
    } finally {
      await broker.close();
    }
  });

  test('each listener holds at most maxConnectionsPerListener sockets; more are closed on arrival', T, async (t) => {
    const intake = await TestIntake.open(['m1']);
    t.after(() => intake.close());
    const broker = await MqttBroker.start({
      intake, allowAnonymous: true, maxConnectionsPerListener: 4,
      tcp: { host: HOST, port: 0 }, tls: { host: HOST, port: 0, key: server.key, cert: server.cert }, ws: { host: HOST, port: 0 },
    });
    try {
      const { tcp, tls, ws } = broker.addresses();
      const urls = [`mqtt://${HOST}:${tcp}`, `mqtts://${HOST}:${tls}`, `ws://${HOST}:${ws}/mqtt`];
      for (const url of urls) {
        for (let i = 0; i < 4; i++) {
          clients.push(await mqtt.connectAsync(url, { ...baseOptions, clientId: `anon-${clients.length}`, rejectUnauthorized: false }));
        }
      }
      assert.equal(broker.connectedClients(), 12);
      // Full: a fifth socket on each listener is closed at once, before any byte.
      for (const port of [tcp!, tls!, ws!]) {
        const s = await idle(port);
        sockets.push(s);
        await until(`the fifth socket on ${port} closed`, () => s.closedAt !== undefined, 10_000, 20);
        assert.equal(s.bytesRead, 0);
      }
      // The connected clients are unaffected; one leaving makes room.
      assert.equal(clients.every((c) => c.connected), true);
      await end(clients.shift());
      await until('a free slot on TCP', async () => {
        const c = await mqtt.connectAsync(urls[0]!, { ...baseOptions, clientId: 'anon-new' }).catch(() => undefined);
        if (c) clients.push(c);
        return c !== undefined;
      }, 10_000, 100);
    } finally {
      await end(...clients.splice(0));
      await broker.close();
    }
  });
});
