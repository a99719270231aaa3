/**
 * The MQTT 3.1.1 interoperability cases (those of the Eclipse Paho test suite: basic,
 * retained messages, offline message queueing, overlapping subscriptions, keepalive,
 * redelivery on reconnect, unsubscribe, $ topics, subscribe failure, zero-length client
 * id), written as our own tests named after the rule each checks. They run with mqtt.js
 * (and raw bytes where a library would hide the flag checked) against a broker with one
 * local account configured for them: it may publish and subscribe anywhere but meters/.
 * "Nothing else arrived" is checked with a marker message sent last, never a sleep.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { type MqttBroker, hashPassword } from '../../../bridge/mqtt/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { until } from '../../helpers/until.js';
import {
  HOST, PacketType, RawClient, baseOptions, connectPacket, end, nextMessage, parsePublish, publishPacket, startBroker, subackCodes, subscribePacket,
} from './support.js';

const T = { timeout: 30_000 };
const USER = 'interop';
const PASSWORD = 'interop-password';
const topics = ['TopicA', 'TopicA/B', 'Topic/C', 'TopicA/C', '/TopicA'];

interface Recorded { topic: string; payload: string; qos: number; retain: boolean; dup: boolean }

describe('MQTT 3.1.1 interoperability (one account configured for it)', { timeout: 240_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  const clients: MqttClient[] = [];
  const raws: RawClient[] = [];
  const url = (): string => `mqtt://${HOST}:${broker.addresses().tcp!}`;

  /** A client of the account that records what it receives; resolves on CONNACK. */
  async function client(suffix: string, opts: IClientOptions = {}): Promise<MqttClient & { got: Recorded[] }> {
    const c = mqtt.connect(url(), { ...baseOptions, clientId: suffix ? `${USER}/${suffix}` : '', username: USER, password: PASSWORD, ...opts }) as MqttClient & { got: Recorded[] };
    c.got = [];
    c.on('message', (topic, payload, p: IPublishPacket) => c.got.push({ topic, payload: payload.toString(), qos: p.qos, retain: p.retain, dup: p.dup }));
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    return c;
  }
  /** Publish a marker on `topic` from `from` and wait until `to` has it: what came before it has arrived. */
  async function settle(from: MqttClient, to: MqttClient & { got: Recorded[] }, topic = 'TopicA/marker'): Promise<Recorded[]> {
    const marker = `marker-${Math.random()}`;
    await from.publishAsync(topic, marker, { qos: 1 });
    await until('the marker', () => to.got.some((m) => m.payload === marker), 10_000, 20);
    return to.got.filter((m) => m.payload !== marker && !m.payload.startsWith('marker-'));
  }
  const raw = async (): Promise<RawClient> => {
    const r = await RawClient.connect(broker.addresses().tcp!);
    raws.push(r);
    return r;
  };

  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await startBroker(intake, {
      accounts: [{ username: USER, passwordHash: hashPassword(PASSWORD), publish: ['#'], subscribe: ['#', '$SYS/+/new/clients'] }],
    });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await end(...clients);
    await broker.close();
    await intake.close();
  });

  test('basic [MQTT-4.3.1-1, 4.3.2-1, 4.3.3-1]: QoS 0, 1 and 2 messages each arrive once', T, async () => {
    const a = await client('basic');
    await a.subscribeAsync(topics[0]!, { qos: 2 });
    for (const qos of [0, 1, 2] as const) await a.publishAsync(topics[0]!, `qos${qos}`, { qos });
    const got = await settle(a, a, topics[0]!);
    assert.deepEqual(got.map((m) => [m.payload, m.qos]).sort(), [['qos0', 0], ['qos1', 1], ['qos2', 2]]);
    await end(a);
  });

  test('retained messages [MQTT-3.3.1-5, 3.3.1-6, 3.3.1-8]: stored and sent with RETAIN=1 to a new subscription; [MQTT-3.3.1-10, 3.3.1-11] a zero-byte one clears', T, async () => {
    const a = await client('retain');
    for (const [t, qos] of [[topics[1], 0], [topics[2], 1], [topics[3], 2]] as [string, 0 | 1 | 2][]) await a.publishAsync(t, `retained ${t}`, { qos, retain: true });
    await a.subscribeAsync('+/+', { qos: 2 });
    await until('three retained messages', () => a.got.length >= 3, 10_000, 20);
    assert.deepEqual(a.got.map((m) => [m.topic, m.retain]).sort(), [[topics[2], true], [topics[1], true], [topics[3], true]].sort());
    // [MQTT-3.3.1-9] a message on an established subscription has RETAIN=0, even published retained.
    a.got.length = 0;
    await a.publishAsync(topics[1]!, 'live', { qos: 1, retain: true });
    await until('the live one', () => a.got.length >= 1, 10_000, 20);
    assert.equal(a.got[0]!.retain, false);
    for (const t of [topics[1], topics[2], topics[3]] as string[]) await a.publishAsync(t, '', { qos: 1, retain: true });
    await end(a);
    const b = await client('retain2');
    await b.subscribeAsync('+/+', { qos: 2 });
    assert.deepEqual(await settle(b, b), [], 'nothing retained any more');
    await end(b);
  });

  test('offline message queueing [MQTT-3.1.2-5]: a CleanSession 0 session keeps QoS 1 and 2 messages while offline', T, async () => {
    let a = await client('offline', { clean: false });
    await a.subscribeAsync('+/+', { qos: 2 });
    await end(a);
    const b = await client('offline-pub');
    await b.publishAsync(topics[1]!, 'qos0', { qos: 0 });
    await b.publishAsync(topics[2]!, 'qos1', { qos: 1 });
    await b.publishAsync(topics[3]!, 'qos2', { qos: 2, retain: true });
    a = await client('offline', { clean: false });
    await until('the queued messages', () => a.got.filter((m) => m.qos > 0).length >= 2, 10_000, 20);
    const got = await settle(b, a);
    // QoS 0 may or may not be kept (aedes does not); QoS 1 and 2 must be.
    assert.deepEqual(got.filter((m) => m.qos > 0).map((m) => [m.topic, m.qos, m.retain]).sort(), [[topics[2], 1, false], [topics[3], 2, false]].sort(), '[MQTT-3.3.1-9] RETAIN=0 when queued');
    await b.publishAsync(topics[3]!, '', { qos: 1, retain: true });
    await end(a, b);
  });

  test('overlapping subscriptions [MQTT-3.3.5-1]: one delivery, at the highest QoS granted; [MQTT-3.8.4-6] never above the QoS granted', T, async () => {
    const a = await client('overlap');
    await a.subscribeAsync({ 'TopicA/#': { qos: 2 }, 'TopicA/+': { qos: 1 } });
    await a.publishAsync(topics[3]!, 'overlapping', { qos: 2 });
    const got = await settle(a, a);
    assert.deepEqual(got.map((m) => [m.payload, m.qos]), [['overlapping', 2]]);
    const b = await client('overlap-1');
    await b.subscribeAsync('Topic/+', { qos: 1 });
    await a.publishAsync(topics[2]!, 'at most 1', { qos: 2 });
    const onlyOne = await settle(a, b, 'Topic/marker');
    assert.deepEqual(onlyOne.map((m) => [m.payload, m.qos]), [['at most 1', 1]]);
    await end(a, b);
  });

  test('keepalive [MQTT-3.1.2-24]: a silent client is disconnected after 1.5 x its keep alive and its Will published', T, async () => {
    const watcher = await client('will-watch');
    await watcher.subscribeAsync('TopicA/will', { qos: 1 });
    const r = await raw();
    r.send(connectPacket({ clientId: `${USER}/silent`, username: USER, password: PASSWORD, keepalive: 2, will: { topic: 'TopicA/will', payload: 'gone', qos: 1 } }));
    assert.equal((await r.connack()).returnCode, 0);
    const will = nextMessage(watcher, 'TopicA/will', 20_000);
    assert.equal(await r.closedWithin(20_000), true, 'closed by the broker');
    assert.equal((await will).toString(), 'gone');
    await end(watcher);
  });

  test('redelivery on reconnect [MQTT-4.4.0-1]: unacknowledged QoS 1 and 2 messages are resent with their packet identifiers and DUP=1 [MQTT-3.3.1-1]', T, async () => {
    const id = `${USER}/redeliver`;
    const r = await raw();
    r.send(connectPacket({ clientId: id, clean: false, username: USER, password: PASSWORD }));
    await r.connack();
    r.send(subscribePacket(1, [['TopicA/#', 2]]));
    await r.nextOf(PacketType.SUBACK);
    const b = await client('redeliver-pub');
    await b.publishAsync(topics[1]!, 'one', { qos: 1 });
    await b.publishAsync(topics[3]!, 'two', { qos: 2 });
    const first = [parsePublish((await r.nextOf(PacketType.PUBLISH))!), parsePublish((await r.nextOf(PacketType.PUBLISH))!)];
    assert.deepEqual(first.map((p) => [p.payload.toString(), p.dup]).sort(), [['one', false], ['two', false]]);
    r.destroy(); // neither PUBACK nor PUBREC
    await until('the broker saw it go', () => broker.connectedClients() === 1, 10_000, 20);
    const r2 = await raw();
    r2.send(connectPacket({ clientId: id, clean: false, username: USER, password: PASSWORD }));
    assert.equal((await r2.connack()).sessionPresent, true);
    const again = [parsePublish((await r2.nextOf(PacketType.PUBLISH))!), parsePublish((await r2.nextOf(PacketType.PUBLISH))!)];
    const byPayload = (ps: ReturnType<typeof parsePublish>[]): [string, number | undefined, number][] => ps.map((p) => [p.payload.toString(), p.messageId, p.qos]).sort() as [string, number | undefined, number][];
    assert.deepEqual(byPayload(again), byPayload(first), 'same packet identifiers and QoS');
    assert.deepEqual(again.map((p) => p.dup), [true, true]);
    await end(b);
  });

  test('unsubscribe [MQTT-3.10.4-2, 3.10.4-4]: UNSUBACK, and no new messages for those filters', T, async () => {
    const a = await client('unsub');
    await a.subscribeAsync({ [topics[1]!]: { qos: 2 }, [topics[2]!]: { qos: 2 }, [topics[3]!]: { qos: 2 }, 'TopicA/marker': { qos: 1 } });
    await a.unsubscribeAsync([topics[1]!, topics[2]!]);
    for (const t of [topics[1], topics[2], topics[3]] as string[]) await a.publishAsync(t, `to ${t}`, { qos: 1 });
    const got = await settle(a, a);
    assert.deepEqual(got.map((m) => m.topic), [topics[3]]);
    await end(a);
  });

  test('$ topics [MQTT-4.7.2-1]: # and +/+/+/+ do not match $SYS topics; a $SYS filter does', T, async () => {
    const wild = await client('dollar-wild');
    await wild.subscribeAsync({ '#': { qos: 0 }, '+/+/+/+': { qos: 0 } });
    const sys = await client('dollar-sys');
    await sys.subscribeAsync('$SYS/+/new/clients', { qos: 0 });
    const c = await client('dollar-new'); // the broker publishes $SYS/<id>/new/clients for it
    await until('the $SYS message', () => sys.got.some((m) => m.payload === `${USER}/dollar-new`), 10_000, 20);
    const got = await settle(c, wild);
    assert.equal(got.filter((m) => m.topic.startsWith('$')).length, 0);
    await end(wild, sys, c);
  });

  test('$ topics: a client publishing to a $ topic is disconnected ([MQTT-3.3.5-2], they are the broker\'s)', T, async () => {
    const a = await client('dollar-pub');
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.publish('$TopicA/B', 'x', { qos: 1 });
    await closed;
    await end(a);
  });

  test('subscribe failure [MQTT-3.8.4-5]: a filter the account may not hold gets 0x80, the others their QoS, and the connection stays', T, async () => {
    const a = await client('subfail');
    assert.deepEqual(await subackCodes(a, ['meters/#', 'TopicA', '$SYS/#', 'meters/m1/receipts'], 2), [0x80, 2, 0x80, 0x80]);
    assert.equal(a.connected, true);
    await end(a);
  });

  test('zero-length client id [MQTT-3.1.3-6]: with CleanSession 1 the broker assigns one; [MQTT-3.1.3-8] with CleanSession 0, CONNACK 2', T, async () => {
    // Raw bytes: mqtt.js would refuse the second CONNECT itself.
    const r = await raw();
    r.send(connectPacket({ clientId: '', clean: true, username: USER, password: PASSWORD }));
    assert.deepEqual(await r.connack(), { returnCode: 0, sessionPresent: false });
    r.send(subscribePacket(1, [[topics[0]!, 1]]));
    await r.nextOf(PacketType.SUBACK);
    r.send(publishPacket(topics[0]!, Buffer.from('no id'), 0));
    assert.equal(parsePublish((await r.nextOf(PacketType.PUBLISH))!).payload.toString(), 'no id');
    const r2 = await raw();
    r2.send(connectPacket({ clientId: '', clean: false, username: USER, password: PASSWORD }));
    assert.equal((await r2.connack()).returnCode, 2);
    assert.equal(await r2.closedWithin(5000), true);
  });

  test('a broad filter never delivers a meter\'s topic: # held by the account sees no receipt', T, async () => {
    const a = await client('broad');
    await a.subscribeAsync({ '#': { qos: 1 }, '+/+/receipts': { qos: 1 } });
    await intake.submit(intake.reading('m1', 1n), { meterId: 'm1', transport: 'mqtt' });
    await intake.commitPending();
    const got = await settle(a, a);
    assert.deepEqual(got.filter((m) => m.topic.startsWith('meters/')), []);
    await end(a);
  });
});
