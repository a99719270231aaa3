/**
 * Local accounts (scrypt passwords) use their configured topics and never meters/;
 * anonymous clients are refused unless allowed, and are kept out of meters/ too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { type MqttBroker, MqttBroker as Broker, hashPassword } from '../../../bridge/mqtt/index.js';
import { readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { HOST, baseOptions, connectMeter, end, nextMessage, startBroker, subackCodes } from './support.js';

const T = { timeout: 10_000 };

describe('local accounts and anonymous clients', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let open: MqttBroker;
  const url = (b: MqttBroker): string => `mqtt://${HOST}:${b.addresses().tcp!}`;

  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await startBroker(intake, {
      accounts: [{ username: 'ops', passwordHash: hashPassword('s3cret'), publish: ['site/#'], subscribe: ['site/+/status'] }],
    });
    open = await startBroker(intake, { allowAnonymous: true });
  });
  after(async () => {
    await broker.close();
    await open.close();
    await intake.close();
  });

  test('an account with the right password uses its topics; meters/# gets SUBACK 0x80', T, async () => {
    const c = await mqtt.connectAsync(url(broker), { ...baseOptions, clientId: 'ops/1', username: 'ops', password: 's3cret' });
    try {
      assert.deepEqual(await subackCodes(c, ['site/a/status', 'meters/#', '#', 'site/#'], 1), [1, 0x80, 0x80, 0x80]);
      const msg = nextMessage(c, 'site/a/status');
      await c.publishAsync('site/a/status', 'up', { qos: 1 });
      assert.equal((await msg).toString(), 'up');
      assert.equal(c.connected, true);
    } finally {
      await end(c);
    }
  });

  test('an account publishing under meters/ is disconnected and nothing is submitted', T, async () => {
    const c = await mqtt.connectAsync(url(broker), { ...baseOptions, clientId: 'ops/2', username: 'ops', password: 's3cret' });
    const n = intake.submitted.length;
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 });
    await closed;
    assert.equal(intake.submitted.length, n);
    await end(c);
  });

  test('a wrong account password is refused with CONNACK 4', T, async () => {
    await assert.rejects(mqtt.connectAsync(url(broker), { ...baseOptions, clientId: 'ops/3', username: 'ops', password: 'guess' }),
      (e: { code?: number }) => e.code === 4);
    await assert.rejects(mqtt.connectAsync(url(broker), { ...baseOptions, clientId: 'nobody/4', username: 'nobody', password: 'x' }),
      (e: { code?: number }) => e.code === 4);
  });

  test('anonymous is refused by default with CONNACK 5', T, async () => {
    await assert.rejects(mqtt.connectAsync(url(broker), { ...baseOptions, clientId: 'anon' }), (e: { code?: number }) => e.code === 5);
  });

  test('with allowAnonymous, anonymous may connect and use broad filters, but never receives meters/', T, async () => {
    const c = await mqtt.connectAsync(url(open), { ...baseOptions, clientId: 'anon' });
    const meter = await connectMeter(open.addresses().tcp!, intake, 'm1');
    try {
      assert.deepEqual(await subackCodes(c, ['meters/#', 'meters/m1/receipts', '+/m1/receipts', '#', 'news/today'], 1), [0x80, 0x80, 1, 1, 1]);
      const seen: string[] = [];
      c.on('message', (t) => seen.push(t));
      // What goes through aedes' own bus (issue 15): the bridge's receipt and the account's
      // message do; the meter's reading ends at its PUBACK and is routed to nobody.
      const bus: string[] = [];
      const markerOnBus = new Promise<void>((resolve) => {
        (open as unknown as { aedes: Aedes }).aedes.on('publish', (p) => {
          if (p.topic.startsWith('$SYS')) return;
          bus.push(p.topic);
          if (p.topic === 'news/marker') resolve();
        });
      });
      await meter.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      const receipt = nextMessage(meter, receiptsTopic('m1')); // the intake commits it within its block interval
      await meter.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 });
      await receipt;
      // Published after the meter had its receipt: had '#' delivered it, it would have come first.
      const marker = nextMessage(c, 'news/marker');
      await c.publishAsync('news/marker', 'm', { qos: 1 });
      await marker;
      assert.deepEqual(seen, ['news/marker']);
      await markerOnBus;
      assert.deepEqual(bus, [receiptsTopic('m1'), 'news/marker']);
    } finally {
      await end(c, meter);
    }
  });

  test('account filters naming meters/ are refused at start; broad ones are fine', T, async () => {
    await assert.rejects(Broker.start({ intake, accounts: [{ username: 'x', passwordHash: hashPassword('p'), subscribe: ['meters/#'] }] }), /names meters\//);
    await assert.rejects(Broker.start({ intake, accounts: [{ username: 'x', passwordHash: 'plain' }] }), /passwordHash/);
    assert.equal(intake.listenerCount(), 2, 'a refused start leaves no listener on the intake');
    const broad = await Broker.start({ intake, accounts: [{ username: 'x', passwordHash: hashPassword('p'), subscribe: ['#'], publish: ['+/x'] }] });
    await broad.close();
  });
});
