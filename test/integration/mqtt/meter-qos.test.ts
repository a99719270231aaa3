/**
 * Meters over plain TCP with real mqtt.js clients: token authentication, the QoS 1 rule
 * (PUBACK only after the intake answered), rejections and receipts on the receipts topic.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { MqttBroker } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, readingsTopic, receiptsTopic, verifyReceipt } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { HOST, baseOptions, connectMeter, end, nextMessage, startBroker, staysPending, subackCodes, tokenFor } from './support.js';

const T = { timeout: 15_000 };

describe('meter over TCP (mqtt.js, protocolVersion 4)', { timeout: 120_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let port: number;
  const clients: MqttClient[] = [];
  const track = (c: MqttClient): MqttClient => (clients.push(c), c);

  before(async () => {
    intake = await TestIntake.open(['m1', 'm2', 'gone']);
    await intake.revoke('gone');
    intake.holdCommitted = true; // receipts reach the bridge at commitPending(), as each test expects
    broker = await startBroker(intake, { fullReceipts: ['m1'] }); // m1 gets full receipts (docs/protocol.md §8.3.2), m2 compact ones
    port = broker.addresses().tcp!;
  });
  beforeEach(async () => {
    await end(...clients.splice(0));
    intake.delayMs = 0;
    intake.busy = false;
    intake.onResolved = undefined;
    await intake.commitPending(); // start each test with no uncommitted readings
  });
  after(async () => {
    await end(...clients);
    await broker.close();
    await intake.close();
  });

  test('QoS 1: PUBACK comes only after intake.submit resolved', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    const events: string[] = [];
    intake.delayMs = 300;
    intake.onResolved = (r) => events.push(`submit:${r.result.status}`);
    const started = Date.now();
    const pub = c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 }).then(() => events.push('puback'));
    assert.equal(await staysPending(pub, 200), true, 'PUBACK must not arrive while submit is pending');
    await pub;
    assert.deepEqual(events, ['submit:accepted', 'puback']);
    assert.ok(Date.now() - started >= 300);
    assert.equal(intake.submitted.at(-1)!.ctx.meterId, 'm1');
    assert.equal(intake.submitted.at(-1)!.ctx.transport, 'mqtt');
  });

  test('bad token is refused with CONNACK 4', T, async () => {
    const otherKeyToken = tokenFor(intake, 'm2', 'm1/c'); // signed by m2's key
    await assert.rejects(connectMeter(port, intake, 'm1', { password: otherKeyToken }), (e: { code?: number }) => e.code === 4);
    await assert.rejects(connectMeter(port, intake, 'm1', { password: 'ml1.1.00' }), (e: { code?: number }) => e.code === 4);
    const stale = tokenFor(intake, 'm1', 'm1/c', Date.now() - 301_000);
    await assert.rejects(connectMeter(port, intake, 'm1', { password: stale }), (e: { code?: number }) => e.code === 4);
    // A token is bound to the client id it was made for.
    await assert.rejects(connectMeter(port, intake, 'm1', { clientId: 'm1/other', password: tokenFor(intake, 'm1', 'm1/c') }), (e: { code?: number }) => e.code === 4);
  });

  test('revoked meter is refused with CONNACK 5', T, async () => {
    await assert.rejects(connectMeter(port, intake, 'gone'), (e: { code?: number }) => e.code === 5);
  });

  test('publish to another meter\'s readings: PUBACK, nothing submitted, E_READING_WRONG_METER on own receipts', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
    const before = intake.submitted.length;
    const msg = nextMessage(c, receiptsTopic('m1'));
    await c.publishAsync(readingsTopic('m2'), Buffer.from(intake.reading('m2', 1n)), { qos: 1 });
    const m = decodeReceiptsTopicMessage(await msg);
    assert.equal(m.status, 'rejected');
    assert.equal(m.status === 'rejected' && m.code, 'E_READING_WRONG_METER');
    assert.equal(intake.submitted.length, before, 'nothing may reach the intake');
    assert.equal(c.connected, true);
  });

  test('subscribe to another meter\'s receipts gets SUBACK 0x80, connection stays', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    // [MQTT-3.8.4-5] one return code per filter, 0x80 for the refused ones.
    const codes = await subackCodes(c, [receiptsTopic('m2'), receiptsTopic('m1'), readingsTopic('m1'), 'meters/#'], 1);
    assert.deepEqual(codes, [0x80, 1, 0x80, 0x80]);
    assert.equal(c.connected, true);
  });

  test('a replayed seq is acked and its E_READING_SEQ_REPLAY rejection arrives on receipts', T, async () => {
    const c = track(await connectMeter(port, intake, 'm2'));
    await c.subscribeAsync(receiptsTopic('m2'), { qos: 1 });
    const r = Buffer.from(intake.reading('m2', 5n));
    await c.publishAsync(readingsTopic('m2'), r, { qos: 1 });
    const msg = nextMessage(c, receiptsTopic('m2'));
    // Seq 5 again in other bytes (the same bytes again would be a retransmission, accepted: docs/protocol.md §3.8).
    await c.publishAsync(readingsTopic('m2'), Buffer.from(intake.reading('m2', 5n, 2000)), { qos: 1 });
    const m = decodeReceiptsTopicMessage(await msg);
    assert.equal(m.status === 'rejected' && m.code, 'E_READING_SEQ_REPLAY');
    assert.equal(m.status === 'rejected' && m.seq, 5n);
  });

  test('committed receipt is delivered and verifies with the genesis alone', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
    const bytes = intake.reading('m1', 100n);
    await c.publishAsync(readingsTopic('m1'), Buffer.from(bytes), { qos: 1 });
    const msg = nextMessage(c, receiptsTopic('m1'));
    await intake.commitPending();
    const m = decodeReceiptsTopicMessage(await msg);
    assert.equal(m.status, 'committed');
    if (m.status !== 'committed') return;
    assert.equal(m.seq, 100n);
    assert.ok(m.receipt, 'm1 is configured for full receipts');
    assert.deepEqual(m.receipt.tx, bytes);
    const v = verifyReceipt(intake.genesis(), m.receipt);
    assert.equal(v.signatureChecked, true);
    assert.equal(v.height, m.height);
  });

  test('QoS 0 readings are submitted too', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    const n = intake.submitted.length;
    const done = new Promise<void>((resolve) => (intake.onResolved = () => resolve()));
    await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 200n)), { qos: 0 });
    await done;
    assert.equal(intake.submitted.length, n + 1);
    assert.equal(intake.submitted.at(-1)!.result.status, 'accepted');
  });

  test('QoS 2 readings are submitted once, before PUBREC', T, async () => {
    const c = track(await connectMeter(port, intake, 'm1'));
    const events: string[] = [];
    intake.delayMs = 200;
    intake.onResolved = () => events.push('submit');
    c.on('packetreceive', (p) => { if (p.cmd === 'pubrec') events.push('pubrec'); });
    await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 300n)), { qos: 2 });
    assert.deepEqual(events, ['submit', 'pubrec']);
  });

  test('another meter cannot take over a meter\'s client id (CONNACK 2); the session survives', T, async () => {
    const opts = { clientId: 'm1/owned', clean: false };
    let c = await connectMeter(port, intake, 'm1', opts);
    await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
    await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 2000n)), { qos: 1 });
    await c.endAsync();
    // m2 tries the id with a clean session, which would wipe m1's session.
    await assert.rejects(connectMeter(port, intake, 'm2', { clientId: 'm1/owned', clean: true }), (e: { code?: number }) => e.code === 2);
    await intake.commitPending();
    c = track(mqtt.connect(`mqtt://${HOST}:${port}`, { ...baseOptions, ...opts, username: 'm1', password: tokenFor(intake, 'm1', opts.clientId) }));
    const m = decodeReceiptsTopicMessage(await nextMessage(c, receiptsTopic('m1')));
    assert.equal(m.status === 'committed' && m.seq, 2000n);
  });

  test('persistent session gets receipts queued while offline', T, async () => {
    const opts = { clientId: 'm2/persistent', clean: false };
    let c = await connectMeter(port, intake, 'm2', opts);
    await c.subscribeAsync(receiptsTopic('m2'), { qos: 1 });
    await c.publishAsync(readingsTopic('m2'), Buffer.from(intake.reading('m2', 1000n)), { qos: 1 });
    await c.endAsync();
    await intake.commitPending();
    // Listen before CONNACK: the queued receipt follows it at once.
    c = track(mqtt.connect(`mqtt://${HOST}:${port}`, { ...baseOptions, ...opts, username: 'm2', password: tokenFor(intake, 'm2', opts.clientId) }));
    const msg = nextMessage(c, receiptsTopic('m2'));
    const m = decodeReceiptsTopicMessage(await msg);
    assert.equal(m.status === 'committed' && m.seq, 1000n);
  });
});
