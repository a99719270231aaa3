/**
 * A validator and an observer of a billing chain on the in-memory network, memory stores,
 * one clock the test moves: the dev chain's billing set-up, readings of both meters
 * through one cycle, and their bills committed on both gateways, unpaid. An accepted
 * payment that a block then makes invalid (docs/billing.md §19.5) is staged with cut():
 * the observer takes the meter's payment while the validator, alone, commits what makes
 * it invalid; heal() lets the observer take that block and drop the payment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BillRecord, type Genesis, LedgerTxType, type SubmitResult, StateKind, TxType, big, billId, signTx,
} from '../../protocols/index.js';
import { silentLogger } from '../../ledger-node/api.js';
import { AutoIssuer, nextPeriod } from '../../ledger-node/billing/auto-issue.js';
import { type DevBillingPlan, readDevBillingPlan, runDevBillingSetup } from '../../ledger-node/billing/dev-setup.js';
import { dataPaths, initCluster } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import type { NodeOptions } from '../../ledger-node/api.js';
import { LedgerNode } from '../../ledger-node/node.js';
import { MemoryNetwork } from '../../ledger-node/p2p/memory.js';
import { inMemory } from './memory-store.js';
import { until } from './until.js';

const CYCLE = 10_000;
const FAST = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 150, prevoteDeltaMs: 50, precommitBaseMs: 150, precommitDeltaMs: 50 };

export interface BilledMeter {
  readonly meterId: string;
  readonly account: string;
  readonly period: string;
  readonly total: bigint;
  readonly meterKey: KeyPair;
  readonly accountKey: KeyPair;
}

export interface BilledPair {
  readonly genesis: Genesis;
  readonly plan: DevBillingPlan;
  readonly net: MemoryNetwork;
  readonly validator: LedgerNode;
  /** The observer: it proposes and votes on nothing, so what it alone holds waits for the validator's blocks. */
  observer: LedgerNode;
  readonly observerId: string;
  readonly observerDir: string;
  /** The two meters, each with its committed, unpaid bill. */
  readonly meters: readonly [BilledMeter, BilledMeter];
  clock: number;
  /** Opens the observer again (after a close) on its data dir, with these options added. */
  reopenObserver(over?: Partial<NodeOptions>): Promise<LedgerNode>;
  /** The meter's payment of its bill (no kid: checked under the owner's mandate). */
  meterPayment(m: BilledMeter): Uint8Array;
  /** The owner's payment of the same bill (kid: the account). */
  ownerPayment(m: BilledMeter): Uint8Array;
  /** The owner revokes the mandate for the payee. */
  mandateRevoke(m: BilledMeter): Uint8Array;
  /** The validator accepts `bytes` and commits everything it holds. */
  commitAtValidator(bytes: Uint8Array): Promise<void>;
  /** The observer's height is the validator's. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

export async function openBilledPair(observerOptions: Partial<NodeOptions> = {}): Promise<BilledPair> {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-billed-pair-'));
  const dirs = [join(root, 'validator'), join(root, 'observer')];
  const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 1, observers: 1, metersPerNode: 1, billing: { cycleMs: CYCLE } });
  const net = new MemoryNetwork();
  const plan = readDevBillingPlan(dirs[0]!)!;
  const open = (i: number, over: Partial<NodeOptions> = {}): Promise<LedgerNode> => LedgerNode.open({
    openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, blockIntervalMs: 50, verifyWorkers: 0,
    now: () => p.clock, ...over,
  });
  const settled = (n: LedgerNode): Promise<void> => until('everything waiting is committed', () => n.status().pending === 0, 30_000, 10);
  const submit = async (n: LedgerNode, bytes: Uint8Array, what: string): Promise<void> => {
    const r: SubmitResult = await n.submitTx(bytes);
    assert.equal(r.status, 'accepted', `${what}: ${r.status === 'rejected' ? `${r.code} ${r.message}` : ''}`);
  };
  const epoch = Date.parse(genesis.billingCycle!.epoch);
  const p = { clock: epoch + 1000 } as { clock: number };
  const validator = await open(0);
  let observer: LedgerNode;
  try {
    observer = await open(1, observerOptions);
  } catch (e) {
    await validator.close();
    throw e;
  }
  const caughtUp = (): Promise<void> => until('the observer has the validator\'s blocks', () => pair.observer.status().height === validator.status().height, 30_000, 10);
  const pair: BilledPair = Object.assign(p, {
    genesis, plan, net, validator, observer, observerId: nodeIds[1]!, observerDir: dirs[1]!, meters: [] as unknown as [BilledMeter, BilledMeter],
    reopenObserver: async (over: Partial<NodeOptions> = {}) => (pair.observer = await open(1, { ...observerOptions, ...over })),
    meterPayment: (m: BilledMeter) => signTx(genesis.chainId, m.meterKey.alg, m.meterKey.secretKey, { type: LedgerTxType.Payment, time: p.clock, meterId: m.meterId, period: m.period, amount: m.total }),
    ownerPayment: (m: BilledMeter) => signTx(genesis.chainId, m.accountKey.alg, m.accountKey.secretKey, { type: LedgerTxType.Payment, time: p.clock, meterId: m.meterId, period: m.period, amount: m.total }, m.account),
    mandateRevoke: (m: BilledMeter) => signTx(genesis.chainId, m.accountKey.alg, m.accountKey.secretKey, { type: LedgerTxType.MandateRevoke, time: p.clock, account: m.account, payee: plan.payee }, m.account),
    commitAtValidator: async (bytes: Uint8Array) => {
      await submit(validator, bytes, 'at the validator');
      await settled(validator);
    },
    caughtUp,
    close: async () => {
      await pair.observer.close().catch(() => {});
      await validator.close().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  }) as BilledPair;

  try {
    const port = { genesis, tip: validator.billingView().tip, submit: (b: Uint8Array) => validator.submitTx(b), now: () => p.clock };
    assert.ok((await runDevBillingSetup(dirs[0]!, plan, port, silentLogger)) > 0);
    await settled(validator);
    const ids = [meterIds[0]![0]!, meterIds[1]![0]!];
    const keyDir = (id: string) => (meterIds[0]!.includes(id) ? dirs[0]! : dirs[1]!);
    const keys = new Map(ids.map((id) => [id, loadKeyFile(dataPaths(keyDir(id)).meterKey(id))]));
    // One cycle from the agreements' start, readings 5 s apart (100 Wh each), one after its end.
    const from = Math.max(...ids.map((id) => (validator.billingView().committed.get(StateKind.Agreement, id) as { entries: { from: number }[] }).entries[0]!.from));
    const period = nextPeriod({ entries: [{ from, tariff: 'dev-tou', biller: 'operator-0' }], billedUntil: 0 }, [], [], { epoch, lengthMs: CYCLE });
    let seq = 1n;
    for (let t = period.start; t <= period.end + 2000; t += t < period.end ? 5000 : 2000) {
      p.clock = Math.max(p.clock, t);
      for (const id of ids) {
        const k = keys.get(id)!;
        await submit(validator, signTx(genesis.chainId, k.alg, k.secretKey, { type: TxType.Reading, meterId: id, seq, time: t, importWh: Number(seq) * 100 }), `reading ${id}/${seq}`);
      }
      seq++;
    }
    await settled(validator);
    p.clock = period.end + 5000;
    const operator = loadKeyFile(dataPaths(dirs[0]!).operatorKey);
    const issuer = new AutoIssuer({ genesis, key: operator, payee: plan.payee, view: validator.billingView(), now: () => p.clock, logger: silentLogger, submit: (b) => validator.submitTx(b) });
    const billOf = (id: string) => validator.billingView().committed.get(StateKind.Bill, billId(id, period.label)) as BillRecord | undefined;
    await until('both bills committed', async () => {
      await issuer.pass();
      await settled(validator);
      p.clock += 1000; // past the issuer's backoff
      return ids.every((id) => billOf(id) !== undefined);
    }, 30_000, 10);
    const accountKeys = plan.accountKeys;
    const meters = ids.map((id): BilledMeter => {
      const bill = billOf(id)!;
      assert.ok(big(bill.total) > 0n, `the bill of ${id} has something due`);
      return {
        meterId: id, account: bill.account, period: period.label, total: big(bill.total), meterKey: keys.get(id)!,
        accountKey: loadKeyFile(join(dirs[0]!, accountKeys[bill.account]!)),
      };
    });
    (pair as { meters: readonly BilledMeter[] }).meters = meters;
    await caughtUp();
  } catch (e) {
    await pair.close();
    throw e;
  }
  return pair;
}
