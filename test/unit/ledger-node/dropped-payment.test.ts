/**
 * An accepted payment that a block made invalid before its commit (docs/billing.md §19.5)
 * is dropped and says so, like a dropped reading: logged at warn with its code, counted
 * (NodeMetrics.paymentDropped), and told through LedgerNode.onDroppedTx, whose refusal
 * (droppedPaymentMessage) is what the meter's bills topic carries. Two causes through
 * another gateway (the bill paid there first; the mandate revoked there), and the same at
 * start-up from the write-ahead, where a payment already in a block is only released.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ReasonCode, StateKind, billId, sha256, toHex } from '../../../protocols/index.js';
import { droppedPaymentMessage } from '../../../ledger-node/billing/outcomes.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import type { DroppedTx } from '../../../ledger-node/drops.js';
import { type NodeMetrics, noopMetrics } from '../../../ledger-node/metrics.js';
import { WriteAheadLog } from '../../../ledger-node/store/wal.js';
import { type BilledPair, openBilledPair } from '../../helpers/billed-pair.js';
import { until } from '../../helpers/until.js';

/** A logger and metrics that record what they are told. */
function recorders() {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const paymentDrops: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (obj: object, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' }) };
  const metrics: NodeMetrics = { ...noopMetrics, paymentDropped: (code) => void paymentDrops.push(code) };
  return { warnings, paymentDrops, logger, metrics };
}

describe('accepted payments that a block made invalid (a validator and an observer, in-memory)', { timeout: 120_000 }, () => {
  const rec = recorders();
  let pair: BilledPair;
  const told: DroppedTx[] = [];
  before(async () => {
    pair = await openBilledPair({ logger: rec.logger, metrics: rec.metrics });
    pair.observer.onDroppedTx((d) => told.push(d));
  });
  after(() => pair?.close());

  /**
   * The meter pays at the cut-off observer (with `alsoAtObserver`, accepted there too); the
   * validator commits `conflict`; the observer takes that block and drops what it made invalid.
   */
  async function meterPaysWhile(meter: number, conflict: Uint8Array, alsoAtObserver?: Uint8Array) {
    const m = pair.meters[meter]!;
    const before = told.length;
    pair.net.cut(pair.observerId);
    const pay = pair.meterPayment(m);
    const r = await pair.observer.intake.submit(pay, { meterId: m.meterId, transport: 'mqtt', purpose: 'payment' });
    assert.equal(r.status, 'accepted', r.status === 'rejected' ? `${r.code} ${r.message}` : '');
    if (alsoAtObserver) assert.equal((await pair.observer.submitTx(alsoAtObserver)).status, 'accepted');
    await pair.commitAtValidator(conflict);
    pair.net.heal(pair.observerId);
    await pair.caughtUp();
    const n = alsoAtObserver ? 2 : 1;
    await until('the observer told of the drops', () => told.length >= before + n, 20_000, 10);
    assert.equal(told.length, before + n);
    assert.equal(pair.observer.status().pending, 0, 'nothing left that would wait for ever');
    return { m, pay, drops: told.slice(before) };
  }

  let ownerPaid: Uint8Array | undefined;

  test('the bill paid by its owner through another gateway: the meter\'s payment is dropped with E_BILL_ALREADY_PAID, logged, counted, told', async () => {
    ownerPaid = pair.ownerPayment(pair.meters[0]);
    const { m, pay, drops: [d] } = await meterPaysWhile(0, ownerPaid);
    assert.equal(d!.code, ReasonCode.BILL_ALREADY_PAID);
    assert.equal(toHex(d!.tx.hash), toHex(sha256(pay)));
    assert.match(d!.message, /is paid/);
    assert.deepEqual(droppedPaymentMessage(d!), {
      kind: 'payment', status: 'refused', meterId: m.meterId, period: m.period, code: ReasonCode.BILL_ALREADY_PAID, message: d!.message, txHash: d!.tx.hash,
    });
    const w = rec.warnings.find((x) => /no longer valid after a block/.test(x.msg) && x.obj.code === ReasonCode.BILL_ALREADY_PAID);
    assert.ok(w, rec.warnings.map((x) => x.msg).join('\n'));
    assert.equal(w.obj.meterId, m.meterId);
    assert.equal(w.obj.txHash, toHex(sha256(pay)));
    assert.deepEqual(rec.paymentDrops, [ReasonCode.BILL_ALREADY_PAID]);
  });

  test('the mandate revoked through another gateway: the meter\'s payment is dropped with E_PAYMENT_NO_MANDATE; a revocation that lost is told with no bills-topic message', async () => {
    const m = pair.meters[1];
    const revoke = pair.mandateRevoke(m);
    pair.clock += 1; // the owner revokes again at the observer: other bytes, the same mandate
    const { pay, drops } = await meterPaysWhile(1, revoke, pair.mandateRevoke(m));
    const byHash = new Map(drops.map((d) => [toHex(d.tx.hash), d]));
    const dp = byHash.get(toHex(sha256(pay)));
    assert.ok(dp, 'the payment was dropped');
    assert.equal(dp.code, ReasonCode.PAYMENT_NO_MANDATE);
    const msg = droppedPaymentMessage(dp);
    assert.ok(msg?.status === 'refused');
    assert.deepEqual([msg.meterId, msg.period, msg.code], [m.meterId, m.period, ReasonCode.PAYMENT_NO_MANDATE]);
    const other = drops.find((d) => d !== dp)!;
    assert.equal(other.code, ReasonCode.MANDATE_UNKNOWN, 'the second revocation found no mandate left');
    assert.equal(droppedPaymentMessage(other), undefined);
    assert.deepEqual(rec.paymentDrops, [ReasonCode.BILL_ALREADY_PAID, ReasonCode.PAYMENT_NO_MANDATE], 'payments only are counted');
  });

  test('start-up: a payment in the write-ahead that a block made invalid is dropped and told to the first listener; one already in a block is released quietly', async () => {
    const m = pair.meters[0];
    assert.ok(ownerPaid && pair.observer.billingView().committed.get(StateKind.Payment, billId(m.meterId, m.period)), 'the owner\'s payment of the first test is committed');
    await pair.observer.close();
    // What a crash can leave: the owner's payment as committed (its segment not yet released)
    // and another payment of the same bill (the meter's, signed at another time: other bytes).
    pair.clock += 7;
    const late = pair.meterPayment(m);
    const { wal } = await WriteAheadLog.open(dataPaths(pair.observerDir).wal);
    await wal.append([{ no: 900, bytes: ownerPaid }, { no: 901, bytes: late }]);
    await wal.close();
    const rec2 = recorders();
    const node = await pair.reopenObserver({ logger: rec2.logger, metrics: rec2.metrics });
    const toldNow: DroppedTx[] = [];
    node.onDroppedTx((d) => toldNow.push(d)); // after the node opened, as billing does
    await until('the drop reaches the first listener', () => toldNow.length === 1, 10_000, 10);
    assert.equal(toHex(toldNow[0]!.tx.hash), toHex(sha256(late)));
    assert.equal(toldNow[0]!.code, ReasonCode.BILL_ALREADY_PAID);
    assert.deepEqual(rec2.paymentDrops, [ReasonCode.BILL_ALREADY_PAID]);
    const entries = rec2.warnings.filter((w) => w.obj.entry !== undefined).map((w) => [w.obj.entry, w.obj.code]);
    assert.deepEqual(entries, [[901, ReasonCode.BILL_ALREADY_PAID]], 'the committed payment (900) is not told');
    assert.equal(node.status().pending, 0);
  });
});
