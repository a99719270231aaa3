/**
 * An accepted reading that a block made invalid before its commit (IntakePort.onDropped):
 * the MQTT bridge tells the meter with a rejection on its receipts topic (docs/protocol.md
 * §8.3), carrying the code and the seq, the path every other refusal takes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { MqttBroker } from '../../../bridge/mqtt/index.js';
import { ReasonCode, decodeReceiptsTopicMessage, makeConnectToken, readingsTopic, receiptsTopic, toHex } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';

test('MQTT: a dropped reading reaches its meter as a rejection on meters/<id>/receipts', { timeout: 20_000 }, async () => {
  const intake = await TestIntake.open(['m1']);
  intake.holdCommitted = true; // the reading's commit must not reach the meter before its drop
  const m = intake.meters.get('m1')!;
  const broker = await MqttBroker.start({ intake, tcp: { host: '127.0.0.1', port: 0 } });
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses().tcp}`, {
    protocolVersion: 4, clientId: 'm1', username: 'm1', reconnectPeriod: 0,
    password: makeConnectToken(intake.chainId, 'm1', 'm1', Date.now(), m.alg, m.secretKey),
  });
  try {
    await c.subscribeAsync(receiptsTopic('m1'), { qos: 1 });
    const got = new Promise<Uint8Array>((resolve) => c.once('message', (_t, payload) => resolve(new Uint8Array(payload))));
    await c.publishAsync(readingsTopic('m1'), Buffer.from(intake.reading('m1', 3n)), { qos: 1 });
    const d = intake.drop('m1', 3n, ReasonCode.SEQ_REPLAY, 'seq 3 is not above the last accepted 4');
    assert.ok(d, 'the reading was accepted, then dropped');
    const msg = decodeReceiptsTopicMessage(await got);
    assert.equal(msg.status, 'rejected');
    if (msg.status !== 'rejected') return;
    assert.equal(msg.code, ReasonCode.SEQ_REPLAY);
    assert.equal(msg.seq, 3n);
    assert.equal(toHex(msg.txHash), toHex(d.txHash));
  } finally {
    await c.endAsync(true);
    await broker.close();
    await intake.close();
  }
});
