/**
 * billing.autoIssue on a LedgerNode (memory store, a clock the test moves): the dev
 * chain's billing set-up as real transactions, a bill not issued while not ready, issued
 * once ready, never twice (a second pass, a restart with the bill waiting in the
 * write-ahead); the meter's payment taken from a device only on the payments path.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type BillRecord, LedgerTxType, ReasonCode, StateKind, billId, decodeBillsTopicMessage, encodeBillsTopicMessage, signTx,
} from '../../../protocols/index.js';
import { AutoIssuer, nextPeriod } from '../../../ledger-node/billing/auto-issue.js';
import { readDevBillingPlan, runDevBillingSetup } from '../../../ledger-node/billing/dev-setup.js';
import { billingMessages } from '../../../ledger-node/billing/outcomes.js';
import type { CommittedBlock } from '../../../ledger-node/blocks/commit.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';
import { until } from '../../helpers/until.js';

const CYCLE = 10_000;

describe('billing.autoIssue on a node', { timeout: 60_000 }, () => {
  const chain = makeTestChain({ meters: 2, billing: { cycleMs: CYCLE } });
  after(() => chain.cleanup());
  const epoch = Date.parse(chain.genesis.billingCycle!.epoch);
  let clock = epoch + 1000;
  const open = (): Promise<LedgerNode> => LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 0, now: () => clock });
  const settled = (n: LedgerNode): Promise<void> => until('committed', () => n.status().pending === 0, 20_000, 10);

  test('set-up, a bill issued once when ready, not again after a restart; bills-topic messages of the block', async () => {
    let node = await open();
    const blocks: CommittedBlock[] = [];
    node.onBlock((b) => blocks.push(b));
    const plan = readDevBillingPlan(chain.dataDir)!;
    const port = () => ({ genesis: chain.genesis, tip: node.billingView().tip, submit: (b: Uint8Array) => node.submitTx(b), now: () => clock });
    assert.ok((await runDevBillingSetup(chain.dataDir, plan, port(), silentLogger)) > 0);
    await settled(node);
    assert.equal(await runDevBillingSetup(chain.dataDir, plan, port(), silentLogger), 0, 'idempotent: nothing left to submit');

    const submitted: Uint8Array[] = [];
    const issuer = (n: LedgerNode): AutoIssuer => new AutoIssuer({
      genesis: chain.genesis, key: chain.operatorKey, payee: plan.payee, view: n.billingView(), now: () => clock, logger: silentLogger,
      submit: (b) => {
        submitted.push(b);
        return n.submitTx(b);
      },
    });
    const meter = 'meter-0001';
    // The agreement runs from 10 s after the set-up; readings from then on, 5 s apart, 100 Wh each.
    const from = (node.billingView().committed.get(StateKind.Agreement, meter) as { entries: { from: number }[] }).entries[0]!.from;
    const period = nextPeriod({ entries: [{ from, tariff: 'dev-tou', biller: 'operator-0' }], billedUntil: 0 }, [], [], { epoch, lengthMs: CYCLE });
    let seq = 1n;
    const read = async (t: number): Promise<void> => {
      clock = Math.max(clock, t);
      const r = await node.submitTx(chain.reading(meter, seq, { time: t, importWh: Number(seq) * 100 }));
      seq++;
      assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.code : '');
    };
    for (let t = period.start; t < period.end; t += 5000) await read(t);
    await settled(node);
    clock = period.end + 1;
    let ai = issuer(node);
    await ai.pass();
    assert.equal(submitted.length, 0, 'not ready: no reading at or after the end committed, nothing submitted');
    await read(period.end + 2000);
    await settled(node);
    clock += 5000; // past the backoff
    await ai.pass();
    assert.equal(submitted.length, 1, 'ready: one bill submitted');
    await ai.pass();
    assert.equal(submitted.length, 1, 'waiting for its block: not submitted again');
    // A crash before its block: the bill is in the write-ahead only; a new gateway does not issue it again.
    await node.close().catch(() => {});
    node = await open();
    ai = issuer(node);
    await ai.pass();
    assert.equal(submitted.length, 1, 'after the restart: not submitted again');
    await settled(node);
    const rec = node.billingView().committed.get(StateKind.Bill, billId(meter, period.label)) as BillRecord | undefined;
    assert.ok(rec, 'the bill is committed');
    assert.equal(rec.payee, plan.payee);

    // The meter pays; the block's messages for the bills topic: the bill (on the first node) and the payment.
    node.onBlock((b) => blocks.push(b));
    const k = chain.meterKeys.get(meter)!;
    const pay = signTx(chain.genesis.chainId, k.alg, k.secretKey, { type: LedgerTxType.Payment, time: clock, meterId: meter, period: period.label, amount: BigInt(rec.total) });
    const onReadings = await node.intake.submit(pay, { meterId: meter, transport: 'mqtt' });
    assert.equal(onReadings.status === 'rejected' && onReadings.code, ReasonCode.SCHEMA, 'a payment is not taken on the readings path');
    const other = await node.intake.submit(pay, { meterId: 'meter-0002', transport: 'mqtt', purpose: 'payment' });
    assert.equal(other.status === 'rejected' && other.code, ReasonCode.WRONG_METER, 'another meter\'s payment is refused');
    const reading = await node.intake.submit(chain.reading(meter, seq), { meterId: meter, transport: 'mqtt', purpose: 'payment' });
    assert.equal(reading.status === 'rejected' && reading.code, ReasonCode.SCHEMA, 'a reading is not taken on the payments path');
    const ok = await node.intake.submit(pay, { meterId: meter, transport: 'mqtt', purpose: 'payment' });
    assert.equal(ok.status, 'accepted', ok.status === 'rejected' ? ok.code : '');
    await settled(node);
    const messages = blocks.flatMap((b) => billingMessages(chain.genesis, b));
    const paid = messages.find((m) => m.kind === 'payment' && m.status === 'paid');
    assert.ok(paid && paid.kind === 'payment' && paid.status === 'paid' && paid.by === 'meter' && paid.amount === BigInt(rec.total));
    const again = await node.intake.submit(pay, { meterId: meter, transport: 'mqtt', purpose: 'payment' });
    assert.equal(again.status === 'rejected' && again.code, ReasonCode.BILL_ALREADY_PAID);
    await node.close();
  });

  test('bills-topic messages round-trip; a bad one is refused with a code', () => {
    const bill = {
      kind: 'bill' as const, meterId: 'm1', period: 'cycle-3', start: 1, end: 2, total: -5n, currency: 'EUR', minorUnits: 2, account: 'a', payee: 'p',
      height: 9, txHash: new Uint8Array(32).fill(1), tx: new Uint8Array([1, 2]), autopay: ReasonCode.PAYMENT_NO_MANDATE,
    };
    assert.deepEqual(decodeBillsTopicMessage(encodeBillsTopicMessage(bill)), bill);
    const refused = { kind: 'payment' as const, status: 'refused' as const, meterId: 'm1', code: 'E_PAYMENT_CAP_EXCEEDED', message: 'x', txHash: new Uint8Array(32) };
    assert.deepEqual(decodeBillsTopicMessage(encodeBillsTopicMessage(refused)), refused);
    assert.throws(() => decodeBillsTopicMessage(encodeBillsTopicMessage({ ...refused, txHash: new Uint8Array(3) })), { code: 'E_BILLS_MESSAGE_MALFORMED' });
    assert.throws(() => decodeBillsTopicMessage(new Uint8Array([0xff])), { code: 'E_BILLS_MESSAGE_MALFORMED' });

  });
});
