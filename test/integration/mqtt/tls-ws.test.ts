/**
 * Meters over TLS authenticate with a client certificate that carries their registered
 * key (made here with node:crypto keys and `openssl req -x509`); MQTT over WebSocket
 * uses the connect token like plain TCP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { Alg, readingsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { type Pem, makeCert } from '../../helpers/tls-certs.js';
import { HOST, baseOptions, end, startBroker, tokenFor } from './support.js';

const T = { timeout: 10_000 };

describe('TLS client certificates and WebSocket', { timeout: 60_000 }, () => {
  let dir: string;
  let intake: TestIntake;
  let broker: MqttBroker;
  let ed: Pem;
  let p256: Pem;
  let stranger: Pem;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-tls-'));
    const server = makeCert(dir, 'server', 'ec', 'localhost');
    ed = makeCert(dir, 'meter-ed', 'ed25519', 'meter-ed');
    p256 = makeCert(dir, 'meter-p256', 'ec', 'meter-p256');
    stranger = makeCert(dir, 'stranger', 'ed25519', 'meter-ed'); // right CN, wrong key
    intake = await TestIntake.open([
      { id: 'meter-ed', alg: Alg.EdDSA, secretKey: ed.secretKey },
      { id: 'meter-p256', alg: Alg.ES256, secretKey: p256.secretKey }, // registered compressed (33 bytes)
      'm1',
    ]);
    broker = await startBroker(intake, {
      tls: { host: HOST, port: 0, key: server.key, cert: server.cert },
      ws: { host: HOST, port: 0 },
    });
  });
  after(async () => {
    await broker.close();
    await intake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `meter` names the client id's owner: the certificate's CN, or the username when given. */
  const tlsConnect = (pem: Pem, meter: string, extra: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> =>
    mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId: `${meter}/tls`, key: pem.key, cert: pem.cert, rejectUnauthorized: false, ...extra,
    });

  test('Ed25519 certificate named by its CN: connects without a password and publishes', T, async () => {
    const c = await tlsConnect(ed, 'meter-ed');
    try {
      await c.publishAsync(readingsTopic('meter-ed'), Buffer.from(intake.reading('meter-ed', 1n)), { qos: 1 });
      assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
      assert.equal(intake.submitted.at(-1)!.ctx.meterId, 'meter-ed');
    } finally {
      await end(c);
    }
  });

  test('P-256 certificate named by username matches the compressed registered key', T, async () => {
    const c = await tlsConnect(p256, 'meter-p256', { username: 'meter-p256' });
    try {
      await c.publishAsync(readingsTopic('meter-p256'), Buffer.from(intake.reading('meter-p256', 1n)), { qos: 1 });
      assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
    } finally {
      await end(c);
    }
  });

  test('a certificate whose key is not the meter\'s is refused with CONNACK 5', T, async () => {
    await assert.rejects(tlsConnect(stranger, 'meter-ed'), (e: { code?: number }) => e.code === 5);
    await assert.rejects(tlsConnect(ed, 'meter-p256', { username: 'meter-p256' }), (e: { code?: number }) => e.code === 5);
  });

  test('TLS without a client certificate falls back to the connect token', T, async () => {
    const clientId = 'm1/tls-token';
    const ok = await mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId, username: 'm1', password: tokenFor(intake, 'm1', clientId), rejectUnauthorized: false,
    });
    await end(ok);
    await assert.rejects(mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId, username: 'm1', password: 'nope', rejectUnauthorized: false,
    }), (e: { code?: number }) => e.code === 4);
  });

  test('MQTT over WebSocket (path /mqtt) with a connect token publishes at QoS 1', T, async () => {
    const clientId = 'm1/ws';
    const c = await mqtt.connectAsync(`ws://${HOST}:${broker.addresses().ws!}/mqtt`, {
      ...baseOptions, clientId, username: 'm1', password: tokenFor(intake, 'm1', clientId),
    });
    try {
      await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 });
      assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
      assert.equal(broker.connectedClients(), 1);
    } finally {
      await end(c);
    }
  });

  test('WebSocket with a bad token is refused with CONNACK 4', T, async () => {
    await assert.rejects(mqtt.connectAsync(`ws://${HOST}:${broker.addresses().ws!}/mqtt`, {
      ...baseOptions, clientId: 'm1/ws2', username: 'm1', password: tokenFor(intake, 'm1', 'someone-else'),
    }), (e: { code?: number }) => e.code === 4);
  });
});
