/**
 * Billing on the gateway: each committed bill and payment goes to its meter's bills topic
 * (docs/protocol.md §8.7) and into the metrics; with `billing.autoIssue` the gateway
 * issues bills itself (ledger-node/billing/auto-issue.ts).
 */
import { AutoIssuer } from '../ledger-node/billing/auto-issue.js';
import { billingMessages } from '../ledger-node/billing/outcomes.js';
import { readDevBillingPlan, runDevBillingSetup } from '../ledger-node/billing/dev-setup.js';
import { loadKeyFile } from '../ledger-node/keyfile.js';
import type { LedgerNode } from '../ledger-node/node.js';
import { type BillsTopicMessage, ProtocolError, StateKind, TxType, big } from '../protocols/index.js';
import { ConfigError } from './errors.js';
import type { GatewayConfig } from './config.js';
import type { GatewayLogger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';

export interface BillsPublisher {
  publishBills(meterId: string, m: BillsTopicMessage): void;
}

export interface GatewayBilling {
  readonly autoIssuer: AutoIssuer | undefined;
  /** Stop issuing (before the node closes); the topic publishing ends with the node. */
  stop(): Promise<void>;
}

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

export async function startBilling(config: GatewayConfig, node: LedgerNode, broker: BillsPublisher, metrics: GatewayMetrics, log: GatewayLogger): Promise<GatewayBilling> {
  const { genesis } = node;
  if (!genesis.currency) {
    if (config.billing.autoIssue) throw new ConfigError('billing.autoIssue.keyFile', 'this chain has no currency in genesis: billing is off, nothing to issue');
    return { autoIssuer: undefined, stop: async () => {} };
  }
  const currency = genesis.currency.code;
  // A dev chain made with `meterledger init --billing`: its accounts, tariff, agreements and mandates.
  const plan = readDevBillingPlan(config.dataDir);
  if (plan) {
    await runDevBillingSetup(config.dataDir, plan, {
      genesis, tip: node.billingView().tip, submit: (bytes) => node.submitTx(bytes), now: Date.now,
    }, log.child({ component: 'billing' }));
  }
  let autoIssuer: AutoIssuer | undefined;
  const a = config.billing.autoIssue;
  if (a) {
    const key = loadKeyFile(a.keyFile);
    try {
      autoIssuer = new AutoIssuer({
        genesis, key, payee: a.payee, view: node.billingView(), submit: (bytes) => node.submitTx(bytes),
        retryMinMs: a.retryMinMs, retryMaxMs: a.retryMaxMs, logger: log.child({ component: 'billing' }), metrics: metrics.billing,
      });
    } catch (e) {
      if (e instanceof ProtocolError) throw new ConfigError('billing.autoIssue.keyFile', `${a.keyFile}: ${e.message.replace(/^E_[A-Z_]+: /, '')}`, { cause: e });
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
    if (autoIssuer) {
      autoIssuer.readingsCommitted(b.txs.flatMap((t) => (t.body.type === TxType.Reading ? [t.body.meterId] : [])));
      autoIssuer.poke();
    }
  });
  autoIssuer?.start();
  return {
    autoIssuer,
    async stop() {
      detach();
      await autoIssuer?.stop();
    },
  };
}

