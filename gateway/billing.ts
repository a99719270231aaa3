/**
 * Billing on the gateway: each committed bill and payment, and each accepted payment that
 * a block made invalid, goes to its meter's bills topic (docs/protocol.md §8.7) and into
 * the metrics; with `billing.autoIssue` the gateway
 * issues bills itself (ledger-node/billing/auto-issue.ts).
 */
import { AutoIssuer, type BillerRecipient } from '../ledger-node/billing/auto-issue.js';
import { billingMessages, droppedPaymentMessage, unpaidBillMessages } from '../ledger-node/billing/outcomes.js';
import { readDevBillingPlan, runDevBillingSetup } from '../ledger-node/billing/dev-setup.js';
import { loadKeyFile } from '../ledger-node/keyfile.js';
import { loadRecipientKeyFile } from '../ledger-node/recipient-keyfile.js';
import type { LedgerNode } from '../ledger-node/node.js';
import {
  type BillsTopicMessage, PERIOD_KEY_TX_TYPE, type PaymentMessage, type PeriodKeyBody, ProtocolError, StateKind, TxType, big, decodeAnyTx, toHex,
} from '../protocols/index.js';
import { ConfigError } from './errors.js';
import type { GatewayConfig } from './config.js';
import type { GatewayLogger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';

export interface BillsPublisher {
  publishBills(meterId: string, m: BillsTopicMessage): void;
  /** After a meter's SUBSCRIBE to its bills topic (bridge/mqtt MqttBroker); returns the detach. */
  onBillsSubscribed?(listener: (meterId: string) => void): () => void;
}

export interface GatewayBilling {
  readonly autoIssuer: AutoIssuer | undefined;
  /** Stop issuing (before the node closes); the topic publishing ends with the node. */
  stop(): Promise<void>;
}

/**
 * The period key transactions wrapped to the biller's recipient key (docs/billing.md
 * §17.2), gathered from committed blocks: those already in the store at start (one read of
 * each block), then each new block's. The biller opens a key only when it bills its period.
 */
class CommittedPeriodKeys {
  private readonly keys = new Map<string, PeriodKeyBody>();
  constructor(private readonly recipientId: string) {}

  add(body: PeriodKeyBody): void {
    if (body.recipients.some((r) => r.recipientId === this.recipientId)) this.keys.set(`${body.meterId}\u0000${toHex(body.keyId)}`, body);
  }

  get(meterId: string, keyIdHex: string): PeriodKeyBody | undefined {
    return this.keys.get(`${meterId}\u0000${keyIdHex}`);
  }

  async scan(node: LedgerNode, upTo: number): Promise<void> {
    for (let h = 1; h <= upTo; h++) {
      const b = await node.getBlock(h);
      for (const raw of b?.txs ?? []) {
        if (!isPeriodKeyTx(raw)) continue;
        const body = decodeAnyTx(raw, Infinity).body;
        if (body.type === PERIOD_KEY_TX_TYPE) this.add(body);
      }
    }
  }
}

/** A cheap look before decoding: type 5 is the first entry of the payload map (CBOR a? 00 05). */
const isPeriodKeyTx = (raw: Uint8Array): boolean => {
  for (let i = 0; i + 2 < raw.length; i++) if (raw[i]! >= 0xa3 && raw[i]! <= 0xb7 && raw[i + 1] === 0x00 && raw[i + 2] === PERIOD_KEY_TX_TYPE) return true;
  return false;
};

/** Bills with something due and no payment, in the committed state. */
function unpaidBills(node: LedgerNode): number {
  const v = node.billingView();
  let n = 0;
  for (const id of v.ids(StateKind.Bill)) {
    const b = v.committed.get(StateKind.Bill, id) as { total: bigint | number } | undefined;
    if (b && big(b.total) > 0n && v.committed.get(StateKind.Payment, id) === undefined) n++;
  }
  return n;
}

/**
 * Each accepted payment that a block made invalid before its commit, as its refused
 * message (docs/billing.md §19.5): for the bills topics and the owner's live feed alike.
 * Returns the detach.
 */
export function onDroppedPayment(node: Pick<LedgerNode, 'onDroppedTx'>, listener: (m: PaymentMessage) => void): () => void {
  return node.onDroppedTx((d) => {
    const m = droppedPaymentMessage(d);
    if (m) listener(m);
  });
}

export async function startBilling(config: GatewayConfig, node: LedgerNode, broker: BillsPublisher, metrics: GatewayMetrics, log: GatewayLogger): Promise<GatewayBilling> {
  const { genesis } = node;
  if (!genesis.currency) {
    if (config.billing.autoIssue) throw new ConfigError('billing.autoIssue.keyFile', 'this chain has no currency in genesis: billing is off, nothing to issue');
    return { autoIssuer: undefined, stop: async () => {} };
  }
  const currency = genesis.currency.code;
  // An accepted payment that a block made invalid (docs/billing.md §19.5): its refusal, as at
  // submission, on the meter's bills topic. On before the set-up below, so that those found
  // in the write-ahead at start reach this listener (the node keeps them for the first one).
  const detachDropped = onDroppedPayment(node, (m) => broker.publishBills(m.meterId, m));
  // A dev chain made with `meterledger init --billing`: its accounts, tariff, agreements and mandates.
  const plan = readDevBillingPlan(config.dataDir);
  if (plan) {
    await runDevBillingSetup(config.dataDir, plan, {
      genesis, tip: node.billingView().tip, submit: (bytes) => node.submitTx(bytes), now: Date.now,
    }, log.child({ component: 'billing' }));
  }
  let autoIssuer: AutoIssuer | undefined;
  let periodKeys: CommittedPeriodKeys | undefined;
  const a = config.billing.autoIssue;
  if (a) {
    const key = loadKeyFile(a.keyFile);
    let recipient: BillerRecipient | undefined;
    if (a.recipientKeyFile !== undefined) {
      let secret: ReturnType<typeof loadRecipientKeyFile> | undefined;
      try {
        secret = loadRecipientKeyFile(a.recipientKeyFile);
      } catch (e) {
        // Erased (`meterledger reading erase`, docs/protocol.md §11.8): run as without it.
        if ((e as { code?: string }).code !== 'E_KEY_ERASED') throw e;
        log.warn({ code: 'E_KEY_ERASED', file: a.recipientKeyFile }, 'billing autoIssue: the recipient key file was erased; confidential meters are not billed');
      }
      if (secret) {
        periodKeys = new CommittedPeriodKeys(secret.key.id);
        const found = periodKeys;
        recipient = { id: secret.key.id, recipient: secret.recipient, periodKey: (m, k) => found.get(m, k) };
      }
    }
    try {
      autoIssuer = new AutoIssuer({
        genesis, key, payee: a.payee, view: node.billingView(), submit: (bytes) => node.submitTx(bytes), ...(recipient ? { recipient } : {}),
        retryMinMs: a.retryMinMs, retryMaxMs: a.retryMaxMs, logger: log.child({ component: 'billing' }), metrics: metrics.billing,
      });
    } catch (e) {
      if (e instanceof ProtocolError) throw new ConfigError('billing.autoIssue.keyFile', `${a.keyFile}: ${e.message}`, { cause: e });
      throw e;
    }
    log.info({ biller: autoIssuer.billerId, payee: a.payee }, 'billing autoIssue on');
  }
  metrics.billing.unpaid(unpaidBills(node));
  const detach = node.onBlock((b) => {
    const messages = billingMessages(genesis, b);
    for (const m of messages) {
      broker.publishBills(m.meterId, m);
      if (m.kind === 'bill') {
        metrics.billing.billCommitted(currency, m.total);
        if (m.autopay !== undefined && m.autopay !== 'paid') metrics.billing.paymentRefused(m.autopay);
      }
      else if (m.status === 'paid') metrics.billing.paymentCommitted(currency, m.by, m.amount);
    }
    if (messages.length) metrics.billing.unpaid(unpaidBills(node));
    if (periodKeys) for (const t of b.txs) if (t.body.type === PERIOD_KEY_TX_TYPE) periodKeys.add(t.body);
    if (autoIssuer) {
      autoIssuer.readingsCommitted(b.txs.flatMap((t) => (t.body.type === TxType.Reading ? [t.body.meterId] : [])));
      autoIssuer.poke();
    }
  });
  // A meter that subscribes gets its unpaid bills again (docs/protocol.md §8.7): one
  // committed while it was away, while this gateway was stopping, or on another gateway.
  const detachSubscribed = broker.onBillsSubscribed?.((meterId) => {
    unpaidBillMessages(genesis, node, meterId).then(
      (ms) => {
        for (const m of ms) broker.publishBills(meterId, m);
      },
      (err: unknown) => log.warn({ err, meterId }, 'could not read the unpaid bills of a meter that subscribed'),
    );
  });
  // After the listener is on, so no block falls between the scan and the listener.
  await periodKeys?.scan(node, node.billingView().head().height);
  autoIssuer?.start();
  return {
    autoIssuer,
    async stop() {
      detach();
      detachDropped();
      detachSubscribed?.();
      await autoIssuer?.stop();
    },
  };
}

