/**
 * The one Prometheus registry of the process (only gateway/ imports prom-client). It
 * implements the node's and the MQTT bridge's metrics interfaces, and the XMPP bridge's
 * as `metrics.xmpp` (its families are registered only on a gateway with XMPP configured). Naming follows the
 * Prometheus conventions: `meterledger_` prefix, base units (seconds, bytes), `_total`
 * on counters, and labels with a bounded set of values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALL_CODES, ALL_REASON_CODES, type Code, Codes, ReasonCode, TX_TYPE_NAMES, TxType, type Transport, isCode } from '../protocols/index.js';
import type { NodeMetrics } from '../ledger-node/metrics.js';
import { P2P_DROP_REASONS } from '../ledger-node/p2p/errors.js';
import type { BridgeMetrics } from '../bridge/mqtt/metrics.js';
import { XMPP_REFUSAL_CODES, type XmppMetrics, type XmppRefusalCode, type XmppState } from '../bridge/xmpp/metrics.js';

const P = 'meterledger_';
const TRANSPORTS: readonly Transport[] = ['mqtt', 'xmpp', 'http', 'peer'];
/** connect-refused reasons kept as label values; anything past this many becomes "other". */
const MAX_REFUSE_REASONS = 16;
const XMPP_STATES: readonly XmppState[] = ['online', 'connecting', 'offline'];
/** The `type` label of transactions other than readings: the type's name in snake case (`bill`, `meter_registration`). */
const TX_TYPE_LABELS: ReadonlyMap<number, string> = new Map(Object.entries(TX_TYPE_NAMES)
  .filter(([t]) => Number(t) !== TxType.Reading)
  .map(([t, name]) => [Number(t), name.replace(/[^a-z0-9]+/g, '_')]));
const STANZA_REFUSALS: readonly XmppRefusalCode[] = XMPP_REFUSAL_CODES;

export class GatewayMetrics implements NodeMetrics, BridgeMetrics {
  readonly registry = new Registry();

  private readonly received = new Counter({ name: `${P}readings_received_total`, help: 'Readings handed to intake, by transport.', labelNames: ['transport'], registers: [this.registry] });
  private readonly accepted = new Counter({ name: `${P}readings_accepted_total`, help: 'Readings durably accepted.', registers: [this.registry] });
  private readonly rejected = new Counter({ name: `${P}readings_rejected_total`, help: 'Readings refused, by reason code.', labelNames: ['reason'], registers: [this.registry] });
  private readonly transactions = new Counter({ name: `${P}transactions_submitted_total`, help: 'Transactions other than readings handed to intake (bills, payments, deposits, registrations ...), by type and outcome: accepted, or the reason code.', labelNames: ['type', 'outcome'], registers: [this.registry] });
  private readonly droppedReadings = new Counter({ name: `${P}readings_dropped_total`, help: 'Accepted readings dropped before their commit (a block made them invalid), by reason code.', labelNames: ['reason'], registers: [this.registry] });
  private readonly sigs = new Counter({ name: `${P}signature_verifications_total`, help: 'Signatures verified.', registers: [this.registry] });
  private readonly sigSeconds = new Histogram({ name: `${P}signature_verify_seconds`, help: 'Time to verify one batch of signatures.', buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry] });
  private readonly acceptSeconds = new Histogram({ name: `${P}accept_latency_seconds`, help: 'From submit to durable accept, per reading.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
  private readonly commitSeconds = new Histogram({ name: `${P}commit_latency_seconds`, help: 'From durable accept to commit, per reading.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [this.registry] });
  private readonly backlogTxs = new Gauge({ name: `${P}backlog_transactions`, help: 'Accepted transactions not yet committed.', registers: [this.registry] });
  private readonly backlogAge = new Gauge({ name: `${P}backlog_oldest_age_seconds`, help: 'Age of the oldest accepted, uncommitted transaction.', registers: [this.registry] });
  private readonly receiptBlocks = new Gauge({ name: `${P}receipts_waiting_blocks`, help: 'Committed blocks whose receipts are not all handed to the MQTT and XMPP bridges yet.', registers: [this.registry] });
  private readonly receiptCount = new Gauge({ name: `${P}receipts_waiting`, help: 'Receipts of committed blocks not yet handed to the MQTT and XMPP bridges.', registers: [this.registry] });
  /** Labelled with the chain: gateways of two chains may share a scrape job, and heights compare only within one. */
  private readonly height = new Gauge({ name: `${P}block_height`, help: 'Height of the last committed block, by chain.', labelNames: ['chain_id'], registers: [this.registry] });
  private readonly blockTxs = new Histogram({ name: `${P}block_transactions`, help: 'Transactions per committed block.', buckets: [0, 1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000], registers: [this.registry] });
  private readonly blockBytes = new Histogram({ name: `${P}block_size_bytes`, help: 'Encoded size of committed blocks.', buckets: [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216], registers: [this.registry] });
  private readonly blockInterval = new Histogram({ name: `${P}block_interval_seconds`, help: 'Time between consecutive committed blocks.', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [this.registry] });
  private readonly storeBytes = new Gauge({ name: `${P}store_size_bytes`, help: 'Bytes of the files of the store and the write-ahead (store/ and wal/ of the data dir).', registers: [this.registry] });
  private readonly storeAvail = new Gauge({ name: `${P}store_filesystem_avail_bytes`, help: 'Bytes the gateway may still write on the file system holding its store.', registers: [this.registry] });
  private readonly clients = new Gauge({ name: `${P}mqtt_clients_connected`, help: 'MQTT clients connected now.', registers: [this.registry] });
  private readonly refused = new Counter({ name: `${P}mqtt_connect_refused_total`, help: 'MQTT CONNECTs refused, by reason.', labelNames: ['reason'], registers: [this.registry] });
  private readonly publishes = new Counter({ name: `${P}mqtt_publishes_received_total`, help: 'MQTT PUBLISH packets received from clients.', registers: [this.registry] });
  private readonly receipts = new Counter({ name: `${P}mqtt_receipts_delivered_total`, help: 'Receipt messages published to meters.', registers: [this.registry] });
  private readonly round = new Gauge({ name: `${P}consensus_round`, help: 'Consensus round at the height being decided (0 when rounds succeed at once).', registers: [this.registry] });
  private readonly timeouts = new Counter({ name: `${P}consensus_timeouts_total`, help: 'Consensus round timeouts that fired, by step.', labelNames: ['step'], registers: [this.registry] });
  private readonly votes = new Counter({ name: `${P}consensus_messages_total`, help: 'Signed proposals and votes from peers that passed their checks, by type.', labelNames: ['type'], registers: [this.registry] });
  private readonly peerCount = new Gauge({ name: `${P}consensus_peers`, help: 'Gateways of the chain heard from in the last 10 s.', registers: [this.registry] });
  private readonly quorum = new Gauge({ name: `${P}consensus_has_quorum`, help: '1 when the validators heard from (with this one) hold more than 2/3 of the voting power.', registers: [this.registry] });
  private readonly synced = new Counter({ name: `${P}sync_blocks_total`, help: 'Blocks fetched from peers and committed by sync.', registers: [this.registry] });
  private readonly behind = new Gauge({ name: `${P}sync_blocks_behind`, help: 'Blocks a peer has that this gateway has not yet synced.', registers: [this.registry] });
  /** Registered on the first report: a lone validator has no NATS link to show as down. */
  private natsUp: Gauge | undefined;
  private readonly dropped = new Counter({ name: `${P}peer_messages_dropped_total`, help: 'Peer messages dropped, by reason code (bad signature, unknown peer, too large, disconnected ...).', labelNames: ['reason'], registers: [this.registry] });
  private readonly backlogLimit = new Gauge({ name: `${P}backlog_limit_transactions`, help: 'ledger.maxBacklog: accepted, uncommitted transactions allowed before E_GATEWAY_BUSY.', registers: [this.registry] });
  private readonly droppedReasons = new Set<string>();
  private readonly unrestorable = new Gauge({ name: `${P}consensus_state_unrestorable`, help: '1 while this validator does not vote at the current height because its consensus record (lock, round, what it signed) could not be restored; it follows the others.', registers: [this.registry] });
  private readonly evidenceCount = new Counter({ name: `${P}consensus_evidence_total`, help: 'Double signing detected (evidence kept in the store).', registers: [this.registry] });
  private readonly httpRefusals = new Counter({ name: `${P}http_refusals_total`, help: 'HTTP API requests answered with an error, by code (docs/errors.md).', labelNames: ['code'], registers: [this.registry] });
  private readonly info = new Gauge({ name: `${P}build_info`, help: 'Always 1; labels say the version and chain.', labelNames: ['version', 'chain_id'], registers: [this.registry] });
  private readonly refuseReasons = new Set<string>();
  private chainId = '';
  private readonly billsIssued = new Counter({ name: `${P}bills_issued_total`, help: 'Bills committed (every biller\'s).', registers: [this.registry] });
  private readonly billsRefused = new Counter({ name: `${P}bills_refused_total`, help: 'Bills this gateway\'s billing.autoIssue computed or submitted and could not issue, by reason code (E_BILL_NOT_READY is waited for, not counted).', labelNames: ['reason'], registers: [this.registry] });
  private readonly paymentsPaid = new Counter({ name: `${P}payments_paid_total`, help: 'Payments committed, by who signed them: meter (under a mandate), owner, autopay.', labelNames: ['by'], registers: [this.registry] });
  private readonly paymentsRefused = new Counter({ name: `${P}payments_refused_total`, help: 'Payments refused: a meter\'s on its payments topic, or autopay at issue, by reason code.', labelNames: ['reason'], registers: [this.registry] });
  private readonly paymentsDropped = new Counter({ name: `${P}payments_dropped_total`, help: 'Accepted payments dropped before their commit (a block made them invalid: the bill paid through another gateway, the mandate revoked, the funds gone), by reason code.', labelNames: ['reason'], registers: [this.registry] });
  // Registered only on a chain with a currency (constructor): per currency, zeroed for the chain's.
  private readonly billedAmount: Counter;
  private readonly paidAmount: Counter;
  private readonly unpaidCount = new Gauge({ name: `${P}bills_unpaid`, help: 'Committed bills with an amount due and no payment.', registers: [this.registry] });
  private readonly billSeconds = new Histogram({ name: `${P}bill_compute_seconds`, help: 'Time billing.autoIssue took to compute one bill with the engine.', buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [this.registry] });
  /** Billing (gateway/billing.ts, ledger-node/billing/auto-issue.ts). */
  readonly billing = {
    billSubmitted: (outcome: 'accepted' | ReasonCode): void => {
      if (outcome !== 'accepted') this.billsRefused.inc({ reason: ALL_REASON_CODES.includes(outcome) ? outcome : 'other' });
    },
    billComputed: (seconds: number): void => this.billSeconds.observe(seconds),
    billCommitted: (currency: string, total: bigint): void => {
      this.billsIssued.inc();
      if (total > 0n) this.billedAmount.inc({ currency }, Number(total));
    },
    paymentCommitted: (currency: string, by: 'meter' | 'owner' | 'autopay', amount: bigint): void => {
      this.paymentsPaid.inc({ by });
      this.paidAmount.inc({ currency }, Number(amount));
    },
    paymentRefused: (code: string): void => {
      this.paymentsRefused.inc({ reason: (ALL_REASON_CODES as readonly string[]).includes(code) ? code : 'other' });
    },
    unpaid: (n: number): void => this.unpaidCount.set(n),
  };
  /** The XMPP bridge's metrics (bridge/xmpp/metrics.ts), for `XmppBridge.start({metrics})`. */
  readonly xmpp: XmppMetrics;

  constructor(opts: { defaultMetrics?: boolean; xmpp?: boolean; currency?: string } = {}) {
    const money = opts.currency !== undefined ? [this.registry] : [];
    this.billedAmount = new Counter({ name: `${P}billed_minor_units_total`, help: 'Sum of the totals due of committed bills (totals above 0), in minor units, per currency (only on a chain with a currency).', labelNames: ['currency'], registers: money });
    this.paidAmount = new Counter({ name: `${P}paid_minor_units_total`, help: 'Sum of committed payments, in minor units, per currency (only on a chain with a currency).', labelNames: ['currency'], registers: money });
    if (opts.currency !== undefined) {
      this.billedAmount.inc({ currency: opts.currency }, 0);
      this.paidAmount.inc({ currency: opts.currency }, 0);
    }
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: P });
      // Gauges named like counters fail `promtool check metrics`; they are only the sums
      // of nodejs_active_{handles,requests,resources} by type, which stay.
      for (const n of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`${P}nodejs_active_${n}_total`);
    }
    // Zero every known label value, so rates and alerts work before the first event.
    for (const t of TRANSPORTS) this.received.inc({ transport: t }, 0);
    for (const r of ALL_REASON_CODES) this.rejected.inc({ reason: r }, 0);
    for (const type of TX_TYPE_LABELS.values()) this.transactions.inc({ type, outcome: 'accepted' }, 0);
    // What can make an accepted reading invalid before its block (docs/protocol.md §9).
    for (const r of [ReasonCode.SEQ_REPLAY, ReasonCode.TIME_SKEW, ReasonCode.METER_REVOKED, ReasonCode.BAD_SIGNATURE]) this.droppedReadings.inc({ reason: r }, 0);
    for (const step of ['propose', 'prevote', 'precommit']) this.timeouts.inc({ step }, 0);
    for (const by of ['meter', 'owner', 'autopay']) this.paymentsPaid.inc({ by }, 0);
    this.billsIssued.inc(0);
    for (const r of [ReasonCode.BILL_MISMATCH, ReasonCode.BILL_EXISTS, ReasonCode.BUSY]) this.billsRefused.inc({ reason: r }, 0);
    this.billSeconds.zero({});
    this.unpaidCount.set(0);
    for (const r of [ReasonCode.PAYMENT_NO_MANDATE, ReasonCode.PAYMENT_CAP_EXCEEDED, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS, ReasonCode.BILL_ALREADY_PAID]) this.paymentsRefused.inc({ reason: r }, 0);
    // What a block can do to a payment accepted before it (docs/billing.md §19.5).
    for (const r of [ReasonCode.BILL_ALREADY_PAID, ReasonCode.PAYMENT_NO_MANDATE, ReasonCode.PAYMENT_MANDATE_EXPIRED, ReasonCode.PAYMENT_CAP_EXCEEDED, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS]) this.paymentsDropped.inc({ reason: r }, 0);
    for (const type of ['proposal', 'prevote', 'precommit']) this.votes.inc({ type }, 0);
    for (const c of ALL_CODES) if (Codes[c].kind === 'http') this.httpRefusals.inc({ code: c }, 0);
    for (const r of P2P_DROP_REASONS) {
      this.droppedReasons.add(r);
      this.dropped.inc({ reason: r }, 0);
    }
    // Without XMPP the families stay out of the scrape: absent, not "disconnected".
    this.xmpp = xmppMetrics(opts.xmpp === true ? [this.registry] : []);
  }

  /** Set once the chain is known, before the node reports a height (block_height carries chain_id). */
  setInfo(version: string, chainId: string): void {
    this.chainId = chainId;
    this.info.set({ version, chain_id: chainId }, 1);
  }

  // NodeMetrics
  readingReceived(transport: Transport): void {
    this.received.inc({ transport: TRANSPORTS.includes(transport) ? transport : 'other' });
  }
  readingAccepted(): void {
    this.accepted.inc();
  }
  readingRejected(code: ReasonCode): void {
    this.rejected.inc({ reason: ALL_REASON_CODES.includes(code) ? code : 'other' });
  }
  transactionSubmitted(type: number | undefined, outcome: 'accepted' | ReasonCode): void {
    const label = (type !== undefined && TX_TYPE_LABELS.get(type)) || 'unknown';
    this.transactions.inc({ type: label, outcome: outcome === 'accepted' || ALL_REASON_CODES.includes(outcome) ? outcome : 'other' });
  }
  readingDropped(code: ReasonCode): void {
    this.droppedReadings.inc({ reason: ALL_REASON_CODES.includes(code) ? code : 'other' });
  }

  paymentDropped(code: ReasonCode): void {
    this.paymentsDropped.inc({ reason: ALL_REASON_CODES.includes(code) ? code : 'other' });
  }

  /** Readings refused so far, by reason (the counter above; reasons never seen are 0). */
  async rejectsByReason(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await this.rejected.get()).values) out[String(v.labels.reason)] = v.value;
    return out;
  }
  signaturesVerified(count: number, seconds: number): void {
    this.sigs.inc(count);
    this.sigSeconds.observe(seconds);
  }
  acceptLatency(seconds: number): void {
    this.acceptSeconds.observe(seconds);
  }
  commitLatency(seconds: number): void {
    this.commitSeconds.observe(seconds);
  }
  backlog(count: number, oldestAgeSeconds: number): void {
    this.backlogTxs.set(count);
    this.backlogAge.set(oldestAgeSeconds);
  }
  blockCommitted(height: number, txCount: number, bytes: number, intervalSeconds: number): void {
    this.height.set({ chain_id: this.chainId }, height);
    this.blockTxs.observe(txCount);
    this.blockBytes.observe(bytes);
    this.blockInterval.observe(intervalSeconds);
  }
  receiptsWaiting(blocks: number, receipts: number): void {
    this.receiptBlocks.set(blocks);
    this.receiptCount.set(receipts);
  }
  consensusRound(_height: number, round: number): void {
    this.round.set(round);
  }

  consensusTimeout(step: 'propose' | 'prevote' | 'precommit'): void {
    this.timeouts.inc({ step });
  }

  consensusMessage(type: 'proposal' | 'prevote' | 'precommit'): void {
    this.votes.inc({ type });
  }

  peers(count: number, quorum: boolean): void {
    this.peerCount.set(count);
    this.quorum.set(quorum ? 1 : 0);
  }

  blockSynced(_height: number, behind: number): void {
    this.synced.inc();
    this.behind.set(behind);
  }

  evidence(): void {
    this.evidenceCount.inc();
  }

  consensusStateUnrestorable(yes: boolean): void {
    this.unrestorable.set(yes ? 1 : 0);
  }

  chainHeight(height: number): void {
    this.height.set({ chain_id: this.chainId }, height);
  }

  natsConnected(up: boolean): void {
    this.natsUp ??= new Gauge({ name: `${P}nats_connected`, help: '1 while the NATS connection to the other gateways is up (absent for a lone validator).', registers: [this.registry] });
    this.natsUp.set(up ? 1 : 0);
  }

  peerMessageDropped(reason: string): void {
    // Reason codes are a fixed set (E_P2P_*); anything else is folded to keep labels bounded.
    const r = /^E_P2P_[A-Z_]+$/.test(reason) && (this.droppedReasons.has(reason) || this.droppedReasons.size < 16) ? reason : 'other';
    this.droppedReasons.add(r);
    this.dropped.inc({ reason: r });
  }

  /** An HTTP error reply; the label is its catalogue code (a bounded set). */
  httpRefused(code: Code): void {
    this.httpRefusals.inc({ code: isCode(code) ? code : 'other' });
  }

  /** The configured backlog limit, so alerts can compare against it. */
  setBacklogLimit(n: number): void {
    this.backlogLimit.set(n);
  }

  /** BridgeMetrics: a refusal the MQTT bridge made before the intake. */
  paymentRefused(code: ReasonCode): void {
    this.billing.paymentRefused(code);
  }
  readingRefused(code: ReasonCode): void {
    this.rejected.inc({ reason: ALL_REASON_CODES.includes(code) ? code : 'other' });
  }

  storeSizeBytes(bytes: number): void {
    this.storeBytes.set(bytes);
  }

  storeFilesystemAvailBytes(bytes: number): void {
    this.storeAvail.set(bytes);
  }

  // BridgeMetrics
  clientsConnected(n: number): void {
    this.clients.set(n);
  }
  connectRefused(reason: string): void {
    let label = /^[A-Za-z0-9_.-]{1,48}$/.test(reason) ? reason : 'other';
    if (!this.refuseReasons.has(label)) {
      if (this.refuseReasons.size >= MAX_REFUSE_REASONS) label = 'other';
      else this.refuseReasons.add(label);
    }
    this.refused.inc({ reason: label });
  }
  publishReceived(): void {
    this.publishes.inc();
  }
  receiptDelivered(): void {
    this.receipts.inc();
  }

  /** The text exposition format and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** XmppMetrics on prom-client; state labels and refusal reasons are closed sets. */
function xmppMetrics(registers: Registry[]): XmppMetrics {
  const connected = new Gauge({ name: `${P}xmpp_connected`, help: 'Whether the XMPP bridge is logged in and online (1) or not (0).', registers });
  const state = new Gauge({ name: `${P}xmpp_state`, help: 'State of the XMPP bridge: 1 for the current state, 0 for the others.', labelNames: ['state'], registers });
  const received = new Counter({ name: `${P}xmpp_stanzas_received_total`, help: 'Reading stanzas received from meters over XMPP.', registers });
  const refused = new Counter({ name: `${P}xmpp_stanzas_refused_total`, help: 'Reading stanzas the XMPP bridge refused before the intake (an XMPP error, or E_GATEWAY_BUSY with too many under way), by reason code.', labelNames: ['reason'], registers });
  const receipts = new Counter({ name: `${P}xmpp_receipts_sent_total`, help: 'Receipt messages sent to meters over XMPP.', registers });
  const setState = (s: XmppState): void => {
    for (const x of XMPP_STATES) state.set({ state: x }, x === s ? 1 : 0);
    connected.set(s === 'online' ? 1 : 0);
  };
  setState('offline');
  for (const r of STANZA_REFUSALS) refused.inc({ reason: r }, 0);
  return {
    state: (s) => setState(XMPP_STATES.includes(s) ? s : 'offline'),
    stanzaReceived: () => received.inc(),
    stanzaRefused: (reason) => refused.inc({ reason: STANZA_REFUSALS.includes(reason) ? reason : 'other' }),
    receiptSent: () => receipts.inc(),
  };
}
