/** MqttBroker lifecycle, metrics and fault containment, driven over in-process stream pairs (MqttBroker.handle). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BridgeMetrics, MqttBroker } from '../../../bridge/mqtt/index.js';
import { type Receipt, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { end, meterOver, nextMessage } from '../../helpers/mqtt-client.js';

const T = { timeout: 10_000 };

function recorder(): { metrics: BridgeMetrics; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    metrics: {
      clientsConnected: (n) => calls.push(`clients:${n}`),
      connectRefused: (r) => calls.push(`refused:${r}`),
      publishReceived: () => calls.push('publish'),
      receiptDelivered: () => calls.push('receipt'),
      readingRefused: (code) => calls.push(`refusedReading:${code}`),
      paymentRefused: (code) => calls.push(`refusedPayment:${code}`),
    },
  };
}

describe('MqttBroker', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  before(async () => {
    intake = await TestIntake.open(['m1']);
  });
  after(() => intake.close());

  test('reports metrics: clients, refusals, readings received, receipts delivered', T, async () => {
    const { metrics, calls } = recorder();
    const broker = await MqttBroker.create({ intake, metrics });
    const c = await meterOver(broker, intake, 'm1');
    try {
      assert.equal(broker.connectedClients(), 1);
      await assert.rejects(meterOver(broker, intake, 'm1', { clientId: 'm1/x', password: 'bad' }));
      await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      const msg = nextMessage(c, receiptsTopic('m1')); // the intake commits it within its block interval
      await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 });
      await msg;
      assert.deepEqual(calls, ['clients:1', 'refused:bad_credentials', 'publish', 'receipt']);
    } finally {
      await end(c);
      await broker.close();
    }
  });

  test('close(): disconnects clients, detaches from the intake; idempotent', T, async () => {
    const broker = await MqttBroker.create({ intake });
    assert.deepEqual(broker.addresses(), {}, 'create() opens no listener');
    const c = await meterOver(broker, intake, 'm1');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    assert.equal(intake.listenerCount(), 1);
    await Promise.all([broker.close(), broker.close()]);
    await closed;
    assert.equal(intake.listenerCount(), 0);
    await end(c);
  });

  test('an exception in intake.meterAuth costs one CONNECT (CONNACK 3), not the broker', T, async () => {
    const broker = await MqttBroker.create({ intake });
    const orig = intake.meterAuth.bind(intake);
    intake.meterAuth = () => {
      throw new Error('registry down');
    };
    try {
      await assert.rejects(meterOver(broker, intake, 'm1'), (e: { code?: number }) => e.code === 3);
      intake.meterAuth = orig;
      const c = await meterOver(broker, intake, 'm1');
      await end(c);
    } finally {
      await broker.close();
    }
  });

  test('a receipt that cannot be encoded is logged, not thrown into the intake', T, async () => {
    const errors: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_o: object | string, m?: string) => errors.push(m ?? '') };
    const broker = await MqttBroker.create({ intake, logger });
    try {
      const bad = { meterId: 'm1', seq: 1n, txHash: new Uint8Array(32), height: 1, receipt: {} as Receipt };
      // As the chain writer hands a committed reading over. The intake would catch a throw and
      // log it to its own (silent) logger: the broker's logger has it only if the broker caught it.
      intake.node.intake.emitCommitted(bad);
      assert.equal(errors.length, 1);
    } finally {
      await broker.close();
    }
  });

  test('account usernames with "/" are refused at start: they would own another name\'s client ids', T, async () => {
    await assert.rejects(MqttBroker.create({ intake, accounts: [{ username: 'ops/a', passwordHash: 'scrypt$16384$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==' }] }), /must not contain "\/"/);
    assert.equal(intake.listenerCount(), 0);
  });
});
