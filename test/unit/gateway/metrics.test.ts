/**
 * Metrics follow the Prometheus naming conventions (prefix, base units, _total counters,
 * bounded labels), and every NodeMetrics / BridgeMetrics / XmppMetrics call shows in the scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_REASON_CODES } from '../../../protocols/index.js';
import type { NodeMetrics } from '../../../ledger-node/metrics.js';
import type { XmppMetrics, XmppState } from '../../../bridge/xmpp/metrics.js';
import { GatewayMetrics } from '../../../gateway/metrics.js';

interface Family { name: string; type: string; samples: string[] }

function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, { name: m[1]!, type: m[2]!, samples: [] });
    else if (line && !line.startsWith('#')) {
      const name = /^[^{ ]+/.exec(line)![0];
      const fam = [...out.values()].find((f) => name === f.name || name.startsWith(`${f.name}_`));
      fam?.samples.push(line);
    }
  }
  return out;
}

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('names: meterledger_ prefix, counters end in _total, histograms in a base unit, no unit-less times', { timeout: 10_000 }, async () => {
  const m = new GatewayMetrics();
  const fams = families((await m.scrape()).body);
  assert.ok(fams.size > 20);
  for (const f of fams.values()) {
    assert.match(f.name, /^meterledger_[a-z0-9_]+$/, f.name);
    if (f.type === 'counter') assert.match(f.name, /_total$/, `${f.name} is a counter`);
    // prom-client's default nodejs_active_*_total gauges included: promtool refuses them.
    else assert.doesNotMatch(f.name, /_total$/, `${f.name} is a ${f.type}, not a counter`);
    assert.doesNotMatch(f.name, /_(ms|milliseconds|kb|mb)(_|$)/, `${f.name}: use base units`);
  }
  const want: Record<string, string> = {
    meterledger_readings_received_total: 'counter',
    meterledger_readings_accepted_total: 'counter',
    meterledger_readings_rejected_total: 'counter',
    meterledger_transactions_submitted_total: 'counter',
    meterledger_signature_verifications_total: 'counter',
    meterledger_signature_verify_seconds: 'histogram',
    meterledger_accept_latency_seconds: 'histogram',
    meterledger_commit_latency_seconds: 'histogram',
    meterledger_backlog_transactions: 'gauge',
    meterledger_backlog_oldest_age_seconds: 'gauge',
    meterledger_block_height: 'gauge',
    meterledger_block_transactions: 'histogram',
    meterledger_block_size_bytes: 'histogram',
    meterledger_block_interval_seconds: 'histogram',
    meterledger_store_size_bytes: 'gauge',
    meterledger_mqtt_clients_connected: 'gauge',
    meterledger_mqtt_connect_refused_total: 'counter',
    meterledger_process_cpu_seconds_total: 'counter',
    meterledger_nodejs_eventloop_lag_seconds: 'gauge',
  };
  for (const [name, type] of Object.entries(want)) assert.equal(fams.get(name)?.type, type, name);
});

test('rejections are labelled by reason code, all codes present at zero before the first one', { timeout: 10_000 }, async () => {
  const m = new GatewayMetrics({ defaultMetrics: false });
  const text = (await m.scrape()).body;
  for (const code of ALL_REASON_CODES) assert.equal(sample(text, `meterledger_readings_rejected_total{reason="${code}"}`), 0, code);
  for (const t of ['mqtt', 'xmpp', 'http']) assert.equal(sample(text, `meterledger_readings_received_total{transport="${t}"}`), 0);
});

test('each NodeMetrics method changes the scrape', { timeout: 10_000 }, async () => {
  const m = new GatewayMetrics({ defaultMetrics: false });
  m.setInfo('0.0.0-test', 'chain-a');
  const nm: NodeMetrics = m;
  const calls: [string, () => void, string, number][] = [
    ['readingReceived', () => nm.readingReceived('mqtt'), 'meterledger_readings_received_total{transport="mqtt"}', 1],
    ['readingAccepted', () => nm.readingAccepted(), 'meterledger_readings_accepted_total', 1],
    ['readingRejected', () => nm.readingRejected('E_READING_SEQ_REPLAY'), 'meterledger_readings_rejected_total{reason="E_READING_SEQ_REPLAY"}', 1],
    ['transactionSubmitted', () => nm.transactionSubmitted(13, 'accepted'), 'meterledger_transactions_submitted_total{type="bill",outcome="accepted"}', 1],
    ['transactionSubmitted', () => nm.transactionSubmitted(16, 'E_PAYMENT_NO_MANDATE'), 'meterledger_transactions_submitted_total{type="payment",outcome="E_PAYMENT_NO_MANDATE"}', 1],
    ['transactionSubmitted', () => nm.transactionSubmitted(undefined, 'E_READING_SCHEMA'), 'meterledger_transactions_submitted_total{type="unknown",outcome="E_READING_SCHEMA"}', 1],
    ['transactionSubmitted', () => nm.transactionSubmitted(99, 'accepted'), 'meterledger_transactions_submitted_total{type="unknown",outcome="accepted"}', 1],
    ['signaturesVerified', () => nm.signaturesVerified(64, 0.002), 'meterledger_signature_verifications_total', 64],
    ['signaturesVerified', () => undefined, 'meterledger_signature_verify_seconds_count', 1],
    ['acceptLatency', () => nm.acceptLatency(0.004), 'meterledger_accept_latency_seconds_count', 1],
    ['commitLatency', () => nm.commitLatency(1.2), 'meterledger_commit_latency_seconds_count', 1],
    ['backlog', () => nm.backlog(17, 2.5), 'meterledger_backlog_transactions', 17],
    ['backlog', () => undefined, 'meterledger_backlog_oldest_age_seconds', 2.5],
    ['blockCommitted', () => nm.blockCommitted(42, 100, 20_000, 1.01), 'meterledger_block_height{chain_id="chain-a"}', 42],
    ['blockCommitted', () => undefined, 'meterledger_block_transactions_sum', 100],
    ['blockCommitted', () => undefined, 'meterledger_block_size_bytes_sum', 20_000],
    ['blockCommitted', () => undefined, 'meterledger_block_interval_seconds_sum', 1.01],
    ['receiptsWaiting', () => nm.receiptsWaiting(2, 3_100), 'meterledger_receipts_waiting_blocks', 2],
    ['receiptsWaiting', () => undefined, 'meterledger_receipts_waiting', 3_100],
    ['storeSizeBytes', () => nm.storeSizeBytes(123_456), 'meterledger_store_size_bytes', 123_456],
    ['storeFilesystemAvailBytes', () => nm.storeFilesystemAvailBytes(9_876_543_210), 'meterledger_store_filesystem_avail_bytes', 9_876_543_210],
    ['consensusRound', () => nm.consensusRound(7, 3), 'meterledger_consensus_round', 3],
    ['consensusTimeout', () => nm.consensusTimeout('prevote'), 'meterledger_consensus_timeouts_total{step="prevote"}', 1],
    ['consensusMessage', () => nm.consensusMessage('precommit'), 'meterledger_consensus_messages_total{type="precommit"}', 1],
    ['peers', () => nm.peers(3, true), 'meterledger_consensus_peers', 3],
    ['peers', () => undefined, 'meterledger_consensus_has_quorum', 1],
    ['blockSynced', () => nm.blockSynced(9, 4), 'meterledger_sync_blocks_total', 1],
    ['blockSynced', () => undefined, 'meterledger_sync_blocks_behind', 4],
    ['evidence', () => nm.evidence(), 'meterledger_consensus_evidence_total', 1],
    ['consensusStateUnrestorable', () => nm.consensusStateUnrestorable(true), 'meterledger_consensus_state_unrestorable', 1],
    ['chainHeight', () => nm.chainHeight(77), 'meterledger_block_height{chain_id="chain-a"}', 77],
    ['natsConnected', () => nm.natsConnected(true), 'meterledger_nats_connected', 1],
    ['peerMessageDropped', () => nm.peerMessageDropped('E_P2P_BAD_SIGNATURE'), 'meterledger_peer_messages_dropped_total{reason="E_P2P_BAD_SIGNATURE"}', 1],
  ];
  for (const [method, call, series, value] of calls) {
    call();
    assert.equal(sample((await m.scrape()).body, series), value, `${method} -> ${series}`);
  }
});

test('each BridgeMetrics method changes the scrape; refusal reasons stay a bounded set', { timeout: 10_000 }, async () => {
  const m = new GatewayMetrics({ defaultMetrics: false });
  m.clientsConnected(5);
  m.connectRefused('bad_credentials');
  m.publishReceived();
  m.receiptDelivered();
  let text = (await m.scrape()).body;
  assert.equal(sample(text, 'meterledger_mqtt_clients_connected'), 5);
  assert.equal(sample(text, 'meterledger_mqtt_connect_refused_total{reason="bad_credentials"}'), 1);
  assert.equal(sample(text, 'meterledger_mqtt_publishes_received_total'), 1);
  assert.equal(sample(text, 'meterledger_mqtt_receipts_delivered_total'), 1);
  for (let i = 0; i < 100; i++) m.connectRefused(`reason_${i}` as 'bad_credentials');
  m.connectRefused('free text with spaces' as 'bad_credentials');
  text = (await m.scrape()).body;
  const series = text.split('\n').filter((l) => l.startsWith('meterledger_mqtt_connect_refused_total{'));
  assert.ok(series.length <= 17, `${series.length} label values`);
  assert.ok(sample(text, 'meterledger_mqtt_connect_refused_total{reason="other"}')! >= 85);
});

test('XMPP families appear only on a gateway with XMPP; names follow the conventions', { timeout: 10_000 }, async () => {
  const none = (await new GatewayMetrics({ defaultMetrics: false }).scrape()).body;
  assert.doesNotMatch(none, /meterledger_xmpp_/, 'a gateway without XMPP does not report it as disconnected');
  const fams = families((await new GatewayMetrics({ defaultMetrics: false, xmpp: true }).scrape()).body);
  const want: Record<string, string> = {
    meterledger_xmpp_connected: 'gauge',
    meterledger_xmpp_state: 'gauge',
    meterledger_xmpp_stanzas_received_total: 'counter',
    meterledger_xmpp_stanzas_refused_total: 'counter',
    meterledger_xmpp_receipts_sent_total: 'counter',
  };
  for (const [name, type] of Object.entries(want)) assert.equal(fams.get(name)?.type, type, name);
});

test('each XmppMetrics method changes the scrape; state and refusal labels stay a closed set', { timeout: 10_000 }, async () => {
  const m = new GatewayMetrics({ defaultMetrics: false, xmpp: true });
  const xm: XmppMetrics = m.xmpp;
  let text = (await m.scrape()).body;
  assert.equal(sample(text, 'meterledger_xmpp_connected'), 0, 'offline until the first login');
  assert.equal(sample(text, 'meterledger_xmpp_state{state="offline"}'), 1);
  for (const r of ['E_READING_MALFORMED', 'E_READING_TOO_LARGE', 'E_GATEWAY_BUSY']) assert.equal(sample(text, `meterledger_xmpp_stanzas_refused_total{reason="${r}"}`), 0, r);

  const states: [XmppState, number][] = [['connecting', 0], ['online', 1], ['offline', 0], ['connecting', 0], ['online', 1]];
  for (const [s, connected] of states) {
    xm.state(s);
    text = (await m.scrape()).body;
    assert.equal(sample(text, 'meterledger_xmpp_connected'), connected, s);
    for (const x of ['online', 'connecting', 'offline']) assert.equal(sample(text, `meterledger_xmpp_state{state="${x}"}`), x === s ? 1 : 0, `${s}: ${x}`);
  }
  xm.stanzaReceived();
  xm.stanzaReceived();
  xm.stanzaRefused('E_READING_MALFORMED');
  xm.stanzaRefused('free text' as 'E_READING_TOO_LARGE');
  xm.receiptSent();
  xm.state('sleeping' as XmppState);
  text = (await m.scrape()).body;
  assert.equal(sample(text, 'meterledger_xmpp_stanzas_received_total'), 2);
  assert.equal(sample(text, 'meterledger_xmpp_stanzas_refused_total{reason="E_READING_MALFORMED"}'), 1);
  assert.equal(sample(text, 'meterledger_xmpp_stanzas_refused_total{reason="other"}'), 1);
  assert.equal(sample(text, 'meterledger_xmpp_receipts_sent_total'), 1);
  assert.equal(text.split('\n').filter((l) => l.startsWith('meterledger_xmpp_state{')).length, 3, 'an unknown state adds no label value');
  assert.equal(sample(text, 'meterledger_xmpp_connected'), 0);
});
