/**
 * MQTT 3.1.1 duties of the broker, checked with raw bytes on a socket, where a client
 * library would not send what the rule is about.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { PacketType, RawClient, ackPacket, connectPacket, parsePublish, publishPacket, startBroker, subscribePacket, tokenFor } from './support.js';

const T = { timeout: 10_000 };

describe('MQTT 3.1.1 conformance (raw socket)', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let port: number;
  const raws: RawClient[] = [];
  const raw = async (): Promise<RawClient> => {
    const r = await RawClient.connect(port);
    raws.push(r);
    return r;
  };
  const meterConnect = (clientId = 'm1/raw', clean = true): Buffer =>
    connectPacket({ clientId, clean, username: 'm1', password: tokenFor(intake, 'm1', clientId) });
  const connack = async (r: RawClient): Promise<number> => {
    const p = await r.next();
    assert.equal(p?.type, PacketType.CONNACK, 'expected CONNACK');
    return p!.body[1]!;
  };

  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await startBroker(intake, { allowAnonymous: true });
    port = broker.addresses().tcp!;
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await broker.close();
    await intake.close();
  });

  test('[MQTT-3.1.2-2] an MQTT 5 CONNECT gets CONNACK 1 (unacceptable protocol version) and is closed', T, async () => {
    const r = await raw();
    r.send(connectPacket({ clientId: 'v5', protocolLevel: 5 }));
    assert.equal(await connack(r), 1);
    assert.equal(await r.closedWithin(2000), true);
  });

  test('[MQTT-3.1.0-2] a second CONNECT on a connection closes it', T, async () => {
    const r = await raw();
    r.send(meterConnect());
    assert.equal(await connack(r), 0);
    r.send(meterConnect());
    assert.equal(await r.closedWithin(2000), true);
  });

  test('[MQTT-3.1.3-8] zero-length client id with CleanSession=0 gets CONNACK 2', T, async () => {
    const r = await raw();
    r.send(connectPacket({ clientId: '', clean: false, username: 'm1', password: tokenFor(intake, 'm1', '') }));
    assert.equal(await connack(r), 2);
    assert.equal(await r.closedWithin(2000), true);
  });

  test('a meter with a zero-length client id is refused with CONNACK 2 even when clean', T, async () => {
    const r = await raw();
    r.send(connectPacket({ clientId: '', clean: true, username: 'm1', password: tokenFor(intake, 'm1', '') }));
    assert.equal(await connack(r), 2);
  });

  test('[MQTT-3.8.4-5] SUBACK carries a return code per filter, 0x80 for each refused one, and the connection stays', T, async () => {
    const r = await raw();
    r.send(meterConnect('m1/sub'));
    assert.equal(await connack(r), 0);
    r.send(subscribePacket(7, [[receiptsTopic('m1'), 1], ['meters/+/receipts', 1], ['#', 0]]));
    const p = await r.next();
    assert.equal(p?.type, PacketType.SUBACK);
    assert.equal(p!.body.readUInt16BE(0), 7);
    assert.deepEqual([...p!.body.subarray(2)], [1, 0x80, 0x80]);
    assert.equal(await r.closedWithin(300), false);
  });

  for (const topic of ['meters/+/readings', 'meters/m1/#']) {
    test(`[MQTT-3.3.2-2] PUBLISH to wildcard topic "${topic}" disconnects`, T, async () => {
      const r = await raw();
      r.send(meterConnect('m1/wild'));
      assert.equal(await connack(r), 0);
      const n = intake.submitted.length;
      r.send(publishPacket(topic, intake.reading('m1', 1n), 1, 3));
      assert.equal(await r.next(), undefined, 'no PUBACK, just the close');
      assert.equal(intake.submitted.length, n);
    });
  }

  test('a meter\'s PUBLISH outside its readings topic: E_READING_WRONG_METER on its receipts, then PUBACK; forwarded to nobody', T, async () => {
    const r = await raw();
    r.send(meterConnect('m1/acl'));
    assert.equal(await connack(r), 0);
    r.send(subscribePacket(1, [[receiptsTopic('m1'), 1]]));
    assert.equal((await r.next())?.type, PacketType.SUBACK);
    const n = intake.submitted.length;
    // A forged receipt on its own receipts topic: not delivered, not even to itself.
    r.send(publishPacket(receiptsTopic('m1'), Buffer.from('forged'), 1, 4));
    const first = await r.next();
    assert.equal(first?.type, PacketType.PUBLISH, 'the rejection comes before the PUBACK');
    const m = decodeReceiptsTopicMessage(new Uint8Array(parsePublish(first!).payload));
    assert.equal(m.status === 'rejected' && m.code, 'E_READING_WRONG_METER');
    r.send(ackPacket(parsePublish(first!).messageId!));
    const ack = await r.next();
    assert.equal(ack?.type, PacketType.PUBACK);
    assert.equal(ack!.body.readUInt16BE(0), 4);
    assert.equal(intake.submitted.length, n);
    // Nothing else arrives: a reading published now gets its PUBACK next.
    r.send(publishPacket(readingsTopic('m1'), intake.reading('m1', 55n), 1, 5));
    assert.equal((await r.next())?.type, PacketType.PUBACK);
    assert.equal(r.isClosed, false);
  });

  test('[MQTT-3.3.5-2] an account\'s unauthorized PUBLISH (a $ topic, meters/) closes the connection: 3.1.1 has no negative PUBACK', T, async () => {
    for (const topic of ['$SYS/forged', readingsTopic('m1')]) {
      const r = await raw();
      r.send(connectPacket({ clientId: 'anon-acl', clean: true }));
      assert.equal(await connack(r), 0);
      r.send(publishPacket(topic, Buffer.from('x'), 1, 6));
      assert.equal(await r.next(), undefined, topic);
    }
  });

  test('[MQTT-3.1.0-1] a first packet that is not CONNECT closes the connection', T, async () => {
    const r = await raw();
    r.send(publishPacket(readingsTopic('m1'), intake.reading('m1', 1n), 1, 1));
    assert.equal(await r.next(), undefined);
  });

  test('[MQTT-4.3.3-2] a QoS 2 retransmission (DUP) before PUBREL gets PUBREC again and is submitted once', T, async () => {
    const r = await raw();
    r.send(meterConnect('m1/q2'));
    assert.equal(await connack(r), 0);
    const n = intake.submitted.length;
    const bytes = intake.reading('m1', 60n);
    r.send(publishPacket(readingsTopic('m1'), bytes, 2, 77));
    const first = await r.next();
    assert.equal(first?.type, PacketType.PUBREC);
    r.send(publishPacket(readingsTopic('m1'), bytes, 2, 77, true));
    const second = await r.next();
    assert.equal(second?.type, PacketType.PUBREC);
    assert.equal(second!.body.readUInt16BE(0), 77);
    assert.equal(intake.submitted.length, n + 1);
    assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
  });

  test('QoS 1 PUBACK carries the PUBLISH packet identifier [MQTT-4.3.2-2] (after the intake answered)', T, async () => {
    const r = await raw();
    r.send(meterConnect('m1/ack'));
    assert.equal(await connack(r), 0);
    intake.delayMs = 150;
    const t0 = Date.now();
    r.send(publishPacket(readingsTopic('m1'), intake.reading('m1', 50n), 1, 0x1234));
    const p = await r.next();
    intake.delayMs = 0;
    assert.equal(p?.type, PacketType.PUBACK);
    assert.equal(p!.body.readUInt16BE(0), 0x1234);
    assert.ok(Date.now() - t0 >= 150);
  });
});
