/** MqttBroker lifecycle, metrics and fault containment, on loopback. */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { type BridgeMetrics, MqttBroker } from '../../../bridge/mqtt/index.js';
import { type Receipt, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { FakeIntake } from '../../helpers/fake-intake.js';
import { HOST, connectMeter, end, nextMessage } from '../../integration/mqtt/support.js';

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
    },
  };
}

const refused = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = netConnect(port, HOST);
  s.once('connect', () => (s.destroy(), resolve(false)));
  s.once('error', () => resolve(true));
});

describe('MqttBroker', { timeout: 60_000 }, () => {
  test('reports metrics: clients, refusals, readings received, receipts delivered', T, async () => {
    const intake = new FakeIntake();
    intake.addMeter('m1');
    const { metrics, calls } = recorder();
    const broker = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 }, metrics });
    const port = broker.addresses().tcp!;
    const c = await connectMeter(port, intake, 'm1');
    try {
      assert.equal(broker.connectedClients(), 1);
      await assert.rejects(connectMeter(port, intake, 'm1', { clientId: 'x', password: 'bad' }));
      await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
      await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 1n)), { qos: 1 });
      const msg = nextMessage(c, receiptsTopic('m1'));
      intake.commitPending();
      await msg;
      assert.deepEqual(calls, ['clients:1', 'refused:bad_credentials', 'publish', 'receipt']);
    } finally {
      await end(c);
      await broker.close();
    }
  });

  test('close(): stops accepting, disconnects clients, detaches from the intake; idempotent', T, async () => {
    const intake = new FakeIntake();
    intake.addMeter('m1');
    const broker = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 }, ws: { host: HOST, port: 0 } });
    const { tcp, ws } = broker.addresses();
    assert.ok(tcp! > 0 && ws! > 0 && tcp !== ws);
    const c = await connectMeter(tcp!, intake, 'm1');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    assert.equal(intake.listenerCount(), 1);
    await Promise.all([broker.close(), broker.close()]);
    await closed;
    assert.equal(intake.listenerCount(), 0);
    assert.equal(await refused(tcp!), true);
    assert.equal(await refused(ws!), true);
    await end(c);
  });

  test('an exception in intake.meterAuth costs one CONNECT (CONNACK 3), not the broker', T, async () => {
    const intake = new FakeIntake();
    intake.addMeter('m1');
    const broker = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 } });
    const port = broker.addresses().tcp!;
    const orig = intake.meterAuth.bind(intake);
    intake.meterAuth = () => {
      throw new Error('registry down');
    };
    try {
      await assert.rejects(connectMeter(port, intake, 'm1'), (e: { code?: number }) => e.code === 3);
      intake.meterAuth = orig;
      const c = await connectMeter(port, intake, 'm1');
      await end(c);
    } finally {
      await broker.close();
    }
  });

  test('a receipt that cannot be encoded is logged, not thrown into the intake', T, async () => {
    const intake = new FakeIntake();
    const errors: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_o: object | string, m?: string) => errors.push(m ?? '') };
    const broker = await MqttBroker.start({ intake, logger });
    try {
      const bad = { meterId: 'm1', seq: 1n, txHash: new Uint8Array(32), height: 1, receipt: {} as Receipt };
      // FakeIntake calls listeners synchronously: a throw would surface here.
      (intake as unknown as { listeners: Set<(c: typeof bad) => void> }).listeners.forEach((l) => l(bad));
      assert.equal(errors.length, 1);
    } finally {
      await broker.close();
    }
  });

  test('a port in use fails start() and leaves nothing behind', T, async () => {
    const intake = new FakeIntake();
    const first = await MqttBroker.start({ intake, tcp: { host: HOST, port: 0 } });
    try {
      await assert.rejects(MqttBroker.start({ intake, ws: { host: HOST, port: 0 }, tcp: { host: HOST, port: first.addresses().tcp! } }), /EADDRINUSE/);
      assert.equal(intake.listenerCount(), 1);
    } finally {
      await first.close();
    }
  });
});
