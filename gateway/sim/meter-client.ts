/**
 * One simulated meter on MQTT 3.1.1 (mqtt.js): persistent session (clean: false), client
 * id and username = meter id, password = a fresh signed CONNECT token on every
 * (re)connect, subscribed to its receipts topic (and on a chain with billing its bills
 * topic) at QoS 1 before it publishes.
 */
import { type MqttClient, connect } from 'mqtt';
import { billsTopic, makeConnectToken, receiptsTopic } from '../../protocols/index.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';
import { GatewayError } from '../errors.js';

export interface MeterClientOptions {
  readonly url: string;
  readonly chainId: string;
  readonly meterId: string;
  readonly key: KeyPair;
  readonly connectTimeoutMs: number;
  readonly onMessage: (topic: string, payload: Uint8Array) => void;
  /** Also subscribe to the meter's bills topic (docs/protocol.md §8.7). */
  readonly bills?: boolean;
}

export async function connectMeter(o: MeterClientOptions): Promise<MqttClient> {
  const token = (): string => makeConnectToken(o.chainId, o.meterId, o.meterId, Date.now(), o.key.alg, o.key.secretKey);
  const client = connect(o.url, {
    protocolVersion: 4, clean: false, clientId: o.meterId, username: o.meterId, password: token(),
    reconnectPeriod: 1000, connectTimeout: o.connectTimeoutMs, keepalive: 30,
  });
  // A token is only good for a few minutes: sign a new one for each reconnect.
  client.on('reconnect', () => {
    client.options.password = token();
  });
  client.on('message', (topic, payload) => o.onMessage(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GatewayError('E_SIM_CONNECT', `${o.meterId}: no CONNACK from ${o.url} within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (e) => {
        clearTimeout(timer);
        reject(new GatewayError('E_SIM_CONNECT', `${o.meterId}: ${e.message}`, { cause: e }));
      });
    });
    await client.subscribeAsync(receiptsTopic(o.meterId), { qos: 1 });
    if (o.bills) await client.subscribeAsync(billsTopic(o.meterId), { qos: 1 });
  } catch (e) {
    client.end(true);
    throw e;
  }
  client.on('error', () => undefined); // later errors show up as missing PUBACKs and receipts
  return client;
}

/** PUBLISH at QoS 1; resolves on PUBACK [MQTT-4.3.2]. */
export function publishQos1(client: MqttClient, topic: string, payload: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (e) => (e ? reject(e) : resolve()));
  });
}
