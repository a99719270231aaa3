/**
 * E_GATEWAY_BUSY is "try later": the reading is not acknowledged, the meter is told on
 * its receipts topic and disconnected, and its MQTT client resends the un-acked PUBLISH
 * after reconnecting ([MQTT-4.4.0-1]), so nothing is lost and nothing is acked early.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, readingsTopic, receiptsTopic, toHex } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { until } from '../../helpers/until.js';
import { connectMeter, end, nextMessage, startBroker, staysPending } from './support.js';

describe('E_GATEWAY_BUSY', { timeout: 30_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;

  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await startBroker(intake);
  });
  after(async () => {
    await broker.close();
    await intake.close();
  });

  test('no PUBACK, rejection on receipts, disconnect; the reading is resent and accepted after reconnect', { timeout: 15_000 }, async () => {
    const c = await connectMeter(broker.addresses().tcp!, intake, 'm1', { clientId: 'm1/busy', clean: false, reconnectPeriod: 300 });
    try {
      await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      intake.busy = true;
      const bytes = intake.reading('m1', 1n);
      const rejection = nextMessage(c, receiptsTopic('m1'));
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      const pub = c.publishAsync(readingsTopic('m1'), Buffer.from(bytes), { qos: 1 });
      const m = decodeReceiptsTopicMessage(await rejection);
      assert.equal(m.status === 'rejected' && m.code, 'E_GATEWAY_BUSY');
      await closed;
      assert.equal(await staysPending(pub, 100), true, 'a BUSY reading must not be acknowledged');
      intake.busy = false;
      await pub; // PUBACK after the resend on the new connection
      const mine = intake.submitted.filter((s) => toHex(s.bytes) === toHex(bytes)).map((s) => s.result.status === 'rejected' ? s.result.code : s.result.status);
      assert.deepEqual(mine, ['E_GATEWAY_BUSY', 'accepted']);
    } finally {
      await end(c);
    }
  });

  test('QoS 0 while BUSY: rejection on receipts, no disconnect (there is no redelivery to ask for)', { timeout: 10_000 }, async () => {
    const c = await connectMeter(broker.addresses().tcp!, intake, 'm1', { clientId: 'm1/q0' });
    try {
      // Every message on the topic: the first test's reading, committed by the real intake,
      // may send its receipt here after this subscription, before the rejection.
      const seen: ReturnType<typeof decodeReceiptsTopicMessage>[] = [];
      c.on('message', (topic, payload) => {
        if (topic === receiptsTopic('m1')) seen.push(decodeReceiptsTopicMessage(payload));
      });
      await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      intake.busy = true;
      await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 50n)), { qos: 0 });
      await until('the rejection on the receipts topic', () => seen.some((x) => x.status === 'rejected'), 5000);
      const m = seen.find((x) => x.status === 'rejected')!;
      assert.equal(m.status === 'rejected' && m.code, 'E_GATEWAY_BUSY');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(c.connected, true);
    } finally {
      intake.busy = false;
      await end(c);
    }
  });

  test('an intake that throws is treated like BUSY: no PUBACK', { timeout: 10_000 }, async () => {
    const c = await connectMeter(broker.addresses().tcp!, intake, 'm1', { clientId: 'm1/throw' });
    const orig = intake.submit.bind(intake);
    intake.submit = () => Promise.reject(new Error('disk on fire'));
    try {
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      const pub = c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 2n)), { qos: 1 });
      await closed;
      assert.equal(await staysPending(pub, 100), true);
    } finally {
      intake.submit = orig;
      await end(c);
    }
  });
});
