/**
 * Hostile bytes cost one connection, never the broker: garbage, truncated packets and
 * oversized packets drop that client while a connected meter keeps publishing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type MqttBroker, maxPacketBytes } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { PacketType, RawClient, connectMeter, connectPacket, end, nextMessage, publishPacket, remainingLength, startBroker, tokenFor } from './support.js';

const T = { timeout: 10_000 };

describe('robustness against bad input', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let port: number;
  let bystander: MqttClient;
  let seq = 0n;

  /** The connected meter still gets its readings acked. */
  async function bystanderStillWorks(): Promise<void> {
    await bystander.publishAsync(readingsTopic('m2'), Buffer.from(intake.reading('m2', ++seq)), { qos: 1 });
    assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
    assert.equal(bystander.connected, true);
  }

  before(async () => {
    intake = await TestIntake.open(['m1', 'm2']);
    broker = await startBroker(intake, { maxPayloadBytes: 1024 });
    port = broker.addresses().tcp!;
    bystander = await connectMeter(port, intake, 'm2');
  });
  after(async () => {
    await end(bystander);
    await broker.close();
    await intake.close();
  });

  test('garbage bytes drop the client; others are unaffected', T, async () => {
    const r = await RawClient.connect(port);
    r.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(await r.closedWithin(3000), true);
    const r2 = await RawClient.connect(port);
    r2.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]));
    assert.equal(await r2.closedWithin(3000), true);
    await bystanderStillWorks();
  });

  test('garbage after a valid CONNECT drops the client', T, async () => {
    const r = await RawClient.connect(port);
    r.send(connectPacket({ clientId: 'm1/g', username: 'm1', password: tokenFor(intake, 'm1', 'm1/g') }));
    assert.equal((await r.next())?.type, PacketType.CONNACK);
    r.send(Buffer.from([0x00, 0x00])); // packet type 0 is reserved (§2.2.1)
    assert.equal(await r.closedWithin(3000), true);
    await bystanderStillWorks();
  });

  test('a truncated packet followed by a close leaves the broker up', T, async () => {
    const r = await RawClient.connect(port);
    const full = connectPacket({ clientId: 'm1/t', username: 'm1', password: tokenFor(intake, 'm1', 'm1/t') });
    r.send(full.subarray(0, 10));
    await new Promise((res) => setTimeout(res, 50));
    r.socket.end();
    await r.closed;
    await bystanderStillWorks();
    assert.equal(broker.connectedClients(), 1);
  });

  test('an oversized packet is refused from its header alone, before its body arrives', T, async () => {
    const r = await RawClient.connect(port);
    r.send(connectPacket({ clientId: 'm1/big', username: 'm1', password: tokenFor(intake, 'm1', 'm1/big') }));
    assert.equal((await r.next())?.type, PacketType.CONNACK);
    // Announce a PUBLISH of 10 MB but send only its first bytes.
    r.send(Buffer.concat([Buffer.of(0x32), remainingLength(10_000_000), Buffer.from('partial')]));
    assert.equal(await r.closedWithin(3000), true);
    await bystanderStillWorks();
  });

  test('a malformed Remaining Length (more than 4 bytes, §2.2.3) drops the client', T, async () => {
    const r = await RawClient.connect(port);
    r.send(Buffer.of(0x10, 0xff, 0xff, 0xff, 0xff, 0x01));
    assert.equal(await r.closedWithin(3000), true);
    await bystanderStillWorks();
  });

  test('a reading above maxPayloadBytes (but within the packet limit) gets PUBACK and E_READING_TOO_LARGE', T, async () => {
    const c = await connectMeter(port, intake, 'm1');
    try {
      await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      const msg = nextMessage(c, receiptsTopic('m1'));
      const n = intake.submitted.length;
      assert.ok(2000 < maxPacketBytes(1024));
      await c.publishAsync(readingsTopic('m1'), Buffer.alloc(2000, 1), { qos: 1 });
      const m = decodeReceiptsTopicMessage(await msg);
      assert.equal(m.status === 'rejected' && m.code, 'E_READING_TOO_LARGE');
      assert.equal(intake.submitted.length, n, 'the intake never sees it');
    } finally {
      await end(c);
    }
  });

  test('a PUBLISH above the packet limit drops the client', T, async () => {
    const r = await RawClient.connect(port);
    r.send(connectPacket({ clientId: 'm1/huge', username: 'm1', password: tokenFor(intake, 'm1', 'm1/huge') }));
    assert.equal((await r.next())?.type, PacketType.CONNACK);
    r.send(publishPacket(readingsTopic('m1'), Buffer.alloc(maxPacketBytes(1024) + 1), 1, 9));
    assert.equal(await r.next(), undefined, 'closed without PUBACK');
    await bystanderStillWorks();
  });

  test('a connection that never sends CONNECT costs nothing to others', T, async () => {
    const idle = await RawClient.connect(port);
    await bystanderStillWorks();
    idle.destroy();
  });
});
