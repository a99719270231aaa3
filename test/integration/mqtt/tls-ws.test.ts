/**
 * Meters over TLS authenticate with a client certificate that carries their registered
 * key (made here with node:crypto keys and `openssl req -x509`); MQTT over WebSocket
 * uses the connect token like plain TCP.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { Alg, readingsTopic } from '../../../protocols/index.js';
import { FakeIntake } from '../../helpers/fake-intake.js';
import { HOST, baseOptions, end, startBroker, tokenFor } from './support.js';

const T = { timeout: 10_000 };

interface Pem { key: string; cert: string; secretKey: Uint8Array }

/** A key pair from node:crypto and a self-signed certificate from openssl. */
function makeCert(dir: string, name: string, type: 'ed25519' | 'ec', cn: string): Pem {
  // Encoded by the key-generation job itself (see ledger-node/keyfile.ts on Node 20's export deadlock).
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const privateKey: string = type === 'ed25519'
    ? generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding }).privateKey;
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  writeFileSync(keyPath, privateKey);
  try {
    execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-days', '1', '-out', certPath], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`openssl is needed to make test certificates: ${(e as Error).message}`);
  }
  const d = createPrivateKey(privateKey).export({ format: 'jwk' }).d!;
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), secretKey: new Uint8Array(Buffer.from(d, 'base64url')) };
}

describe('TLS client certificates and WebSocket', { timeout: 60_000 }, () => {
  let dir: string;
  let intake: FakeIntake;
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
    intake = new FakeIntake();
    intake.addMeter('meter-ed', { alg: Alg.EdDSA, secretKey: ed.secretKey });
    intake.addMeter('meter-p256', { alg: Alg.ES256, secretKey: p256.secretKey }); // registered compressed (33 bytes)
    intake.addMeter('m1');
    broker = await startBroker(intake, {
      tls: { host: HOST, port: 0, key: server.key, cert: server.cert },
      ws: { host: HOST, port: 0 },
    });
  });
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsConnect = (pem: Pem, extra: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> =>
    mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId: `tls-${Math.random().toString(16).slice(2)}`, key: pem.key, cert: pem.cert, rejectUnauthorized: false, ...extra,
    });

  test('Ed25519 certificate named by its CN: connects without a password and publishes', T, async () => {
    const c = await tlsConnect(ed);
    try {
      await c.publishAsync(readingsTopic('meter-ed'), Buffer.from(intake.reading('meter-ed', 1n)), { qos: 1 });
      assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
      assert.equal(intake.submitted.at(-1)!.ctx.meterId, 'meter-ed');
    } finally {
      await end(c);
    }
  });

  test('P-256 certificate named by username matches the compressed registered key', T, async () => {
    const c = await tlsConnect(p256, { username: 'meter-p256' });
    try {
      await c.publishAsync(readingsTopic('meter-p256'), Buffer.from(intake.reading('meter-p256', 1n)), { qos: 1 });
      assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
    } finally {
      await end(c);
    }
  });

  test('a certificate whose key is not the meter\'s is refused with CONNACK 5', T, async () => {
    await assert.rejects(tlsConnect(stranger), (e: { code?: number }) => e.code === 5);
    await assert.rejects(tlsConnect(ed, { username: 'meter-p256' }), (e: { code?: number }) => e.code === 5);
  });

  test('TLS without a client certificate falls back to the connect token', T, async () => {
    const clientId = 'm1-tls-token';
    const ok = await mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId, username: 'm1', password: tokenFor(intake, 'm1', clientId), rejectUnauthorized: false,
    });
    await end(ok);
    await assert.rejects(mqtt.connectAsync(`mqtts://${HOST}:${broker.addresses().tls!}`, {
      ...baseOptions, clientId, username: 'm1', password: 'nope', rejectUnauthorized: false,
    }), (e: { code?: number }) => e.code === 4);
  });

  test('MQTT over WebSocket (path /mqtt) with a connect token publishes at QoS 1', T, async () => {
    const clientId = 'm1-ws';
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
      ...baseOptions, clientId: 'm1-ws2', username: 'm1', password: tokenFor(intake, 'm1', 'someone-else'),
    }), (e: { code?: number }) => e.code === 4);
  });
});
