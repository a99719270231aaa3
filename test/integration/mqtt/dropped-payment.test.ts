/**
 * A payment a meter sent over MQTT and saw acknowledged (PUBACK), then made invalid by a
 * block committed first through another gateway (docs/billing.md §19.5): the meter hears
 * of it on meters/<id>/bills as the "refused" payment message a refusal at submission gets
 * (docs/protocol.md §8.7), with its code, period and txHash, from gateway/billing.ts; the
 * gateway counts it in meterledger_payments_dropped_total. Real MQTT (aedes on loopback,
 * mqtt.js meters), the ledger a validator and an observer in memory (test/helpers/billed-pair.ts):
 * the meters talk to the observer, cut off while the validator commits what wins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { MqttBroker } from '../../../bridge/mqtt/index.js';
import {
  type BillsTopicMessage, ReasonCode, billsTopic, decodeBillsTopicMessage, makeConnectToken, paymentsTopic, sha256, toHex,
} from '../../../protocols/index.js';
import { type GatewayBilling, onDroppedPayment, startBilling } from '../../../gateway/billing.js';
import { loadConfig } from '../../../gateway/config.js';
import type { GatewayLogger } from '../../../gateway/logger.js';
import { GatewayMetrics } from '../../../gateway/metrics.js';
import { type BilledMeter, type BilledPair, openBilledPair } from '../../helpers/billed-pair.js';
import { until } from '../../helpers/until.js';
import mqtt from 'mqtt';

const quiet: GatewayLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, flush() {} };

describe('MQTT: an acknowledged payment dropped at a later block reaches its meter as a refusal on its bills topic', { timeout: 120_000 }, () => {
  const metrics = new GatewayMetrics({ defaultMetrics: false, currency: 'EUR' });
  let pair: BilledPair;
  let broker: MqttBroker;
  let billing: GatewayBilling;
  const clients: MqttClient[] = [];
  /** What the portal's live feed (GET /api/v1/events) is given. */
  const feed: BillsTopicMessage[] = [];
  before(async () => {
    pair = await openBilledPair({ metrics });
    broker = await MqttBroker.start({ intake: pair.observer.intake, tcp: { host: '127.0.0.1', port: 0 } });
    const config = loadConfig({ flags: { 'data-dir': pair.observerDir, 'log-level': 'silent' }, env: {} });
    billing = await startBilling(config, pair.observer, broker, metrics, quiet);
    onDroppedPayment(pair.observer, (m) => feed.push(m)); // as gateway.ts feeds the owner's live events
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await billing?.stop();
    await broker?.close();
    await pair?.close();
  });

  /** The meter on the observer's broker, subscribed to its bills topic; every message it gets. */
  async function meterOnline(m: BilledMeter): Promise<{ client: MqttClient; got: BillsTopicMessage[] }> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses().tcp}`, {
      protocolVersion: 4, clientId: m.meterId, username: m.meterId, reconnectPeriod: 0,
      password: makeConnectToken(pair.genesis.chainId, m.meterId, m.meterId, Date.now(), m.meterKey.alg, m.meterKey.secretKey),
    });
    clients.push(client);
    const got: BillsTopicMessage[] = [];
    client.on('message', (topic, payload) => {
      if (topic === billsTopic(m.meterId)) got.push(decodeBillsTopicMessage(new Uint8Array(payload)));
    });
    await client.subscribeAsync(billsTopic(m.meterId), { qos: 1 });
    // Sent again on subscribing (§8.7): its unpaid bill, the one it pays below.
    await until(`${m.meterId} has its bill`, () => got.some((x) => x.kind === 'bill' && x.period === m.period), 10_000, 10);
    return { client, got };
  }

  /** The meter pays over MQTT while its gateway is cut off; the validator commits `conflict`; the refusal that follows. */
  async function payWhile(meter: number, conflict: (m: BilledMeter) => Uint8Array) {
    const m = pair.meters[meter];
    const { client, got } = await meterOnline(m);
    pair.net.cut(pair.observerId);
    const pay = pair.meterPayment(m);
    await client.publishAsync(paymentsTopic(m.meterId), Buffer.from(pay), { qos: 1 }); // resolves on the PUBACK
    assert.equal(pair.observer.status().pending, 1, 'accepted: it waits at the observer');
    assert.deepEqual(got.filter((x) => x.kind === 'payment'), [], 'no refusal at submission');
    await pair.commitAtValidator(conflict(m));
    pair.net.heal(pair.observerId);
    const mine = (x: BillsTopicMessage) => x.kind === 'payment' && toHex(x.txHash) === toHex(sha256(pay));
    await until(`${m.meterId} told its payment is refused`, () => got.some(mine), 30_000, 10);
    const outcomes = got.filter(mine);
    assert.equal(outcomes.length, 1, 'one outcome for the payment it saw acknowledged, no "paid"');
    const r = outcomes[0]!;
    assert.ok(r.kind === 'payment' && r.status === 'refused', JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(r.meterId, m.meterId);
    assert.equal(r.period, m.period);
    assert.deepEqual(feed.filter(mine), [r], 'the owner\'s live feed gets the same refusal');
    assert.equal(pair.observer.status().pending, 0);
    return { r, got };
  }

  const dropped = async (code: string): Promise<number> => {
    const body = (await metrics.scrape()).body;
    const line = new RegExp(`^meterledger_payments_dropped_total\\{reason="${code}"\\} (\\d+)`, 'm').exec(body);
    return Number(line?.[1] ?? NaN);
  };

  test('the owner paid the same bill through another gateway: E_BILL_ALREADY_PAID', async () => {
    assert.equal(await dropped(ReasonCode.BILL_ALREADY_PAID), 0);
    const { r, got } = await payWhile(0, (m) => pair.ownerPayment(m));
    assert.equal(r.code, ReasonCode.BILL_ALREADY_PAID);
    assert.match(r.message, /is paid/);
    // The block that won: the bill is paid, by the owner (the message of its block, §8.7).
    const paid = got.find((x) => x.kind === 'payment' && x.status === 'paid');
    assert.ok(paid?.kind === 'payment' && paid.status === 'paid' && paid.by === 'owner' && paid.period === pair.meters[0].period);
    assert.equal(await dropped(ReasonCode.BILL_ALREADY_PAID), 1);
  });

  test('the owner revoked the mandate through another gateway: E_PAYMENT_NO_MANDATE', async () => {
    const { r, got } = await payWhile(1, (m) => pair.mandateRevoke(m));
    assert.equal(r.code, ReasonCode.PAYMENT_NO_MANDATE);
    assert.equal(got.filter((x) => x.kind === 'payment').length, 1, 'the bill is still unpaid: its refusal is the only payment message');
    assert.equal(await dropped(ReasonCode.PAYMENT_NO_MANDATE), 1);
    assert.equal(await dropped(ReasonCode.BILL_ALREADY_PAID), 1, 'counted once each');
  });
});
