/**
 * The intake counts readings in the readings metrics and every other transaction (an
 * operator's, a biller's, a payment ...) under meterledger_transactions_submitted_total, by
 * type and outcome: meterledger_readings_* counts readings only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TxType } from '../../../protocols/index.js';
import { GatewayMetrics } from '../../../gateway/metrics.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('intake metrics: readings apart from other transactions', () => {
  let chain: TestChain;
  let node: LedgerNode;
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  before(async () => {
    chain = makeTestChain({ meters: 2 });
    node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 0, metrics });
  });
  after(async () => {
    await node.close();
    chain.cleanup();
  });

  test('an operator\'s revocation, its replay and undecodable HTTP bytes are transactions; a device\'s garbage and readings are readings', async () => {
    const [a, b] = chain.meterIds;
    const mqtt = { meterId: a!, transport: 'mqtt' as const };
    assert.equal((await node.intake.submit(chain.reading(a!, 1), mqtt)).status, 'accepted');
    assert.equal((await node.intake.submit(chain.reading(a!, 1, { importWh: 7 }), mqtt)).status, 'rejected');
    assert.equal((await node.intake.submit(new Uint8Array([1, 2, 3]), mqtt)).status, 'rejected');
    assert.equal((await node.submitTx(chain.reading(b!, 1))).status, 'accepted', 'a reading over HTTP is a reading');
    const revoke = chain.operatorTx({ type: TxType.MeterRevoke, meterId: b!, time: Date.now() });
    assert.equal((await node.submitTx(revoke)).status, 'accepted');
    const twice = await node.submitTx(chain.operatorTx({ type: TxType.MeterRevoke, meterId: b!, time: Date.now() + 1 }));
    assert.equal(twice.status, 'rejected');
    const twiceCode = twice.status === 'rejected' ? twice.code : '';
    assert.equal((await node.submitTx(new Uint8Array([0xff, 0x00]))).status, 'rejected');

    const text = (await metrics.scrape()).body;
    assert.equal(sample(text, 'meterledger_readings_received_total{transport="mqtt"}'), 3);
    assert.equal(sample(text, 'meterledger_readings_received_total{transport="http"}'), 1);
    assert.equal(sample(text, 'meterledger_readings_accepted_total'), 2);
    assert.equal(sample(text, 'meterledger_accept_latency_seconds_count'), 2, 'accept latency is per reading');
    const readingRejects = text.split('\n').filter((l) => l.startsWith('meterledger_readings_rejected_total{')).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    assert.equal(readingRejects, 2, 'the replayed reading and the device\'s garbage');
    assert.equal(sample(text, 'meterledger_transactions_submitted_total{type="meter_revocation",outcome="accepted"}'), 1);
    assert.equal(sample(text, `meterledger_transactions_submitted_total{type="meter_revocation",outcome="${twiceCode}"}`), 1);
    const unknown = text.split('\n').filter((l) => l.startsWith('meterledger_transactions_submitted_total{type="unknown",'));
    assert.equal(unknown.length, 1, unknown.join('\n'));
    assert.equal(Number(unknown[0]!.split(' ').at(-1)), 1);
  });
});
