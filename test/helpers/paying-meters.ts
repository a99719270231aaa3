/**
 * Meters of a billing dev chain over real MQTT (mqtt.js) that report readings with the
 * register following the clock and pay their bills with the simulator's own paying code
 * (gateway/sim/pay.ts): what billing.test.ts and the portal's money pages drive.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { type BillMessage, type PaymentMessage, billsTopic, decodeBillsTopicMessage, makeConnectToken, readingsTopic, signTx, TxType } from '../../protocols/index.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';
import { type PaymentTally, onBillsMessage } from '../../gateway/sim/pay.js';

export interface PayingMeter {
  readonly id: string;
  readonly key: KeyPair;
  readonly client: MqttClient;
  /** Every message of its bills topic, in order. */
  readonly messages: (BillMessage | PaymentMessage)[];
  seq: bigint;
}

/** A meter's MQTT session (a persistent one, its connect token made again on each reconnect); rejects after 10 s without CONNACK. */
export async function connectMeter(mqttUrl: string, chainId: string, id: string, key: KeyPair, clientId = id): Promise<MqttClient> {
  const token = (): string => makeConnectToken(chainId, id, clientId, Date.now(), key.alg, key.secretKey);
  const client = mqtt.connect(mqttUrl, { protocolVersion: 4, clientId, username: id, password: token(), clean: false, reconnectPeriod: 300, connectTimeout: 5000 });
  client.on('reconnect', () => {
    client.options.password = token();
  });
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${id}: no CONNACK`)), 10_000);
    client.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return client;
}

/**
 * A connected meter subscribed to its bills topic, paying each bill with something due as
 * the simulator does, except while its id is in `hold`.
 */
export async function payingMeter(
  mqttUrl: string, chainId: string, id: string, key: KeyPair, pay: { tally: PaymentTally; seen: Set<string>; hold?: ReadonlySet<string> },
): Promise<PayingMeter> {
  const client = await connectMeter(mqttUrl, chainId, id, key);
  const m: PayingMeter = { id, key, client, messages: [], seq: BigInt(Date.now()) * 1000n };
  client.on('message', (topic, payload) => {
    if (topic !== billsTopic(id)) return;
    const bytes = new Uint8Array(payload);
    m.messages.push(decodeBillsTopicMessage(bytes));
    if (pay.hold?.has(id)) return;
    onBillsMessage(chainId, id, key, client, bytes, pay.tally, () => {}, pay.seen);
  });
  await client.subscribeAsync(billsTopic(id), { qos: 1 });
  return m;
}

/** One signed reading at QoS 1, the register following the clock (100 Wh a second). */
export function reportReading(chainId: string, m: PayingMeter): void {
  const now = Date.now();
  const tx = signTx(chainId, m.key.alg, m.key.secretKey, { type: TxType.Reading, meterId: m.id, seq: m.seq++, time: now, importWh: Math.floor(now / 10) });
  m.client.publish(readingsTopic(m.id), Buffer.from(tx), { qos: 1 });
}

/** A reading from each meter every `ms`; clearInterval stops it. */
export function reportEvery(chainId: string, meters: readonly PayingMeter[], ms = 400): NodeJS.Timeout {
  return setInterval(() => {
    for (const m of meters) reportReading(chainId, m);
  }, ms);
}
