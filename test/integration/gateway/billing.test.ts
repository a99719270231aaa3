/**
 * Billing over real MQTT (issue 12): a real gateway process on a dev chain made with
 * `init --billing` (a cycle of a few seconds, billing.autoIssue on), mqtt.js meters that
 * report readings through several cycles and pay their bills with the simulator's own
 * paying code (gateway/sim/pay.ts). Bills are issued by the gateway by itself; meters
 * pay within their mandates; one meter's bill exceeds its cap per bill and is refused
 * with E_PAYMENT_CAP_EXCEEDED on its bills topic; one owner has no funds
 * (E_PAYMENT_INSUFFICIENT_FUNDS) and the meter's payment goes through after a deposit.
 * Only the meter may subscribe to its bills topic; a restart issues no bill twice; a meter
 * that subscribes again gets its unpaid bills again (those of the last drain included).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BillMessage, LedgerTxType, billsTopic, decodeBillsTopicMessage, parseGenesis, signTx } from '../../../protocols/index.js';
import { DEV_BILLING_PLAN_FILE, type DevBillingPlan } from '../../../ledger-node/billing/dev-setup.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { newTally } from '../../../gateway/sim/pay.js';
import { GatewayProcess, cli, logLines } from '../../helpers/gateway-process.js';
import { type PayingMeter, connectMeter, payingMeter, reportEvery } from '../../helpers/paying-meters.js';
import { until } from '../../helpers/until.js';

const CYCLE_S = 4;
const ADMIN = 'test-admin-token-billing';

describe('billing over real MQTT: bills issued by the gateway, paid by the meters', { timeout: 240_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let plan: DevBillingPlan;
  const meters: PayingMeter[] = [];
  let ticker: NodeJS.Timeout | undefined;
  const tally = newTally();
  const seen = new Set<string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-billing-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '4', '--billing', '--cycle-s', String(CYCLE_S)]);
    assert.equal(init.code, 0, init.stderr);
    // meter-0003's cap per bill is 1 cent: its bills are refused; owner-0004 has no money at first.
    const file = join(dir, DEV_BILLING_PLAN_FILE);
    plan = JSON.parse(readFileSync(file, 'utf8')) as DevBillingPlan;
    plan = {
      ...plan,
      meters: plan.meters.map((m) => (m.meterId === 'meter-0003' ? { ...m, capPerBill: 1 } : m.meterId === 'meter-0004' ? { ...m, deposit: 0 } : m)),
    };
    writeFileSync(file, JSON.stringify(plan));
    const config = join(dir, 'test-config.json');
    writeFileSync(config, JSON.stringify({
      ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN },
      billing: { autoIssue: { keyFile: 'keys/operator.key', payee: 'superenergy', retryMinMs: 300, retryMaxMs: 2000 } },
    }), { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', config, '--log-format', 'json', '--log-level', 'info']);
    await gw.start();
  });
  after(async () => {
    clearInterval(ticker);
    await Promise.all(meters.map((m) => m.client.endAsync(true).catch(() => {})));
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const genesis = () => parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));

  test('meters report through cycles, bills come on their bills topics, meters pay within their mandates', async () => {
    const g = genesis();
    for (const id of ['meter-0001', 'meter-0002', 'meter-0003', 'meter-0004']) {
      // The simulator's meter: pays each bill with something due.
      meters.push(await payingMeter(gw.mqttUrl, g.chainId, id, loadKeyFile(dataPaths(dir).meterKey(id)), { tally, seen }));
    }
    // Readings every 400 ms, the register following the clock (100 Wh a second: a 4 s bill at the night price is ~5 cents).
    ticker = reportEvery(g.chainId, meters, 400);

    const byMeter = (id: string) => meters.find((m) => m.id === id)!;
    const paidByMeter = (id: string) => byMeter(id).messages.filter((x) => x.kind === 'payment' && x.status === 'paid' && x.by === 'meter');
    const refused = (id: string, code: string) => byMeter(id).messages.filter((x) => x.kind === 'payment' && x.status === 'refused' && x.code === code);
    const summary = (): string => meters.map((m) => `${m.id}: ${m.messages.map((x) => (x.kind === 'bill' ? `bill ${x.period} ${x.total}` : x.status === 'paid' ? `paid ${x.period}` : `refused ${x.period ?? ''} ${x.code}`)).join(', ')}`).join('\n');
    await until('meter-0001 and meter-0002 paid two bills each', () => paidByMeter('meter-0001').length >= 2 && paidByMeter('meter-0002').length >= 2, 120_000)
      .catch((e: unknown) => assert.fail(`${(e as Error).message}\n${summary()}\n${gw.stderr.split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-5).join('\n')}`));
    await until('meter-0003 told its payment exceeds the cap', () => refused('meter-0003', 'E_PAYMENT_CAP_EXCEEDED').length >= 1, 60_000);
    await until('meter-0004 told its owner lacks funds', () => refused('meter-0004', 'E_PAYMENT_INSUFFICIENT_FUNDS').length >= 1, 60_000);

    // Each bill names its meter, a positive total within the cap, and pays in full.
    for (const id of ['meter-0001', 'meter-0002']) {
      const bills = byMeter(id).messages.filter((x): x is BillMessage => x.kind === 'bill');
      assert.ok(bills.length >= 2);
      for (const b of bills) {
        assert.equal(b.meterId, id);
        assert.equal(b.currency, 'EUR');
        assert.equal(b.payee, 'superenergy');
        assert.ok(b.total <= 2000n, `within the cap per bill: ${b.total}`);
      }
      for (const p of paidByMeter(id)) {
        const bill = bills.find((b) => b.period === (p as { period: string }).period);
        assert.ok(bill, `a payment of a bill the meter got (${(p as { period: string }).period})`);
        assert.equal((p as { amount: bigint }).amount, bill.total);
      }
    }
    // A bill within meter-0003's 1-cent cap is paid (a short first cycle by night can be one
    // cent), nothing above it.
    const bills3 = byMeter('meter-0003').messages.filter((x): x is BillMessage => x.kind === 'bill');
    for (const p of paidByMeter('meter-0003')) {
      const bill = bills3.find((b) => b.period === (p as { period: string }).period);
      assert.ok(bill && bill.total <= 1n, `nothing above the cap is paid: ${summary()}`);
    }
    const capRefusal = refused('meter-0003', 'E_PAYMENT_CAP_EXCEEDED')[0] as { period?: string };
    assert.match(capRefusal.period ?? '', /^cycle-\d+$/);

    // John's neighbour deposits (the custodian's transaction), and the meter pays the bill it was refused.
    const op = loadKeyFile(dataPaths(dir).operatorKey);
    const deposit = signTx(g.chainId, op.alg, op.secretKey, { type: LedgerTxType.Deposit, time: Date.now(), account: 'owner-0004', amount: 100_000n, reference: 'test-late-deposit' }, 'operator-0');
    const r = await fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/cbor' }, body: deposit });
    assert.equal(r.status, 202, await r.text());
    const m4 = byMeter('meter-0004');
    const firstRefused = (refused('meter-0004', 'E_PAYMENT_INSUFFICIENT_FUNDS')[0] as { period: string }).period;
    const bill = m4.messages.find((x): x is BillMessage => x.kind === 'bill' && x.period === firstRefused)!;
    await until('owner-0004 funded', async () => {
      const again = signTx(g.chainId, m4.key.alg, m4.key.secretKey, { type: LedgerTxType.Payment, time: Date.now(), meterId: m4.id, period: bill.period, amount: bill.total });
      await m4.client.publishAsync(`meters/${m4.id}/payments`, Buffer.from(again), { qos: 1 });
      return until('an outcome', () => m4.messages.some((x) => x.kind === 'payment' && x.period === bill.period && x.status === 'paid'), 3000).then(() => true, () => false);
    }, 60_000, 500);
  });

  test('only the meter may subscribe to its bills topic', async () => {
    const g = genesis();
    const key = loadKeyFile(dataPaths(dir).meterKey('meter-0002'));
    const c = await connectMeter(gw.mqttUrl, g.chainId, 'meter-0002', key, 'meter-0002/spy');
    try {
      // mqtt.js turns a SUBACK failure (0x80) into an error naming it.
      await assert.rejects(c.subscribeAsync(billsTopic('meter-0001'), { qos: 1 }), (e: Error & { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] === 128);
      const own = await c.subscribeAsync(billsTopic('meter-0002'), { qos: 1 });
      assert.equal(own[0]!.qos, 1);
    } finally {
      await c.endAsync(true);
    }
  });

  test('metrics count bills and payments by outcome', async () => {
    const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    assert.ok(value(/^meterledger_bills_issued_total (\d+)/m) >= 8);
    assert.ok(value(/^meterledger_payments_paid_total\{by="meter"\} (\d+)/m) >= 5);
    assert.ok(value(/^meterledger_payments_refused_total\{reason="E_PAYMENT_CAP_EXCEEDED"\} (\d+)/m) >= 1);
    assert.ok(value(/^meterledger_payments_refused_total\{reason="E_PAYMENT_INSUFFICIENT_FUNDS"\} (\d+)/m) >= 1);
    assert.ok(value(/^meterledger_paid_minor_units_total\{currency="EUR"\} (\d+)/m) > 0);
    assert.ok(value(/^meterledger_bill_compute_seconds_count (\d+)/m) >= 8);
  });

  test('a restart issues no bill twice: one "bill issued" per meter and period, no period twice on a bills topic', async () => {
    const issuedLines = (stderr: string) => logLines(stderr).filter((l) => l.msg === 'billing autoIssue: bill issued').map((l) => `${String(l.meterId)}/${String(l.period)}`);
    await gw.stop();
    const firstRun = issuedLines(gw.stderr);
    await gw.start();
    // Cycles pass while the meters keep reporting; the gateway catches up after its restart.
    const before = new Map(meters.map((m) => [m.id, m.messages.filter((x) => x.kind === 'bill').length]));
    await until('new bills after the restart', () => meters.every((m) => m.messages.filter((x) => x.kind === 'bill').length > before.get(m.id)!), 60_000);
    const issued = [...firstRun, ...issuedLines(gw.stderr)];
    assert.ok(firstRun.length > 0 && issued.length > firstRun.length);
    assert.equal(new Set(issued).size, issued.length, 'each bill issued once');
    for (const m of meters) {
      // An unpaid bill comes again when the meter subscribes again (its client does after the
      // restart): the same bill, the same transaction. A period billed twice would be another one.
      const bills = new Map<string, string>();
      for (const b of m.messages.filter((x): x is BillMessage => x.kind === 'bill')) {
        const tx = Buffer.from(b.txHash).toString('hex');
        assert.equal(bills.get(b.period) ?? tx, tx, `${m.id}: ${b.period} billed twice`);
        bills.set(b.period, tx);
      }
    }
    // Every unpaid bill of meter-0003 (each refused: over its cap) reached it, those committed
    // in the node's last drain at the stop included: its client subscribed again after the restart.
    const unpaid = (await (await fetch(`${gw.httpUrl}/api/v1/meters/meter-0003/bills`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { bills: { period: string; paid: boolean; total: string }[] };
    const seen3 = new Set(meters.find((m) => m.id === 'meter-0003')!.messages.filter((x) => x.kind === 'bill').map((b) => b.period));
    const due = unpaid.bills.filter((b) => !b.paid && BigInt(b.total) > 0n).map((b) => b.period);
    assert.ok(due.length > 0);
    await until('every unpaid bill of meter-0003 on its topic', () => due.every((p) => seen3.has(p) || meters.find((m) => m.id === 'meter-0003')!.messages.some((x) => x.kind === 'bill' && x.period === p)), 15_000);
  });

  test('a meter that subscribes to its bills topic gets its unpaid bills again, not its paid ones', async () => {
    const g = genesis();
    const got = async (id: string): Promise<BillMessage[]> => {
      const key = loadKeyFile(dataPaths(dir).meterKey(id));
      const c = await connectMeter(gw.mqttUrl, g.chainId, id, key, `${id}/again`);
      const out: BillMessage[] = [];
      c.on('message', (topic: string, payload: Buffer) => {
        if (topic !== billsTopic(id)) return;
        const m = decodeBillsTopicMessage(new Uint8Array(payload));
        if (m.kind === 'bill') out.push(m);
      });
      try {
        await c.subscribeAsync(billsTopic(id), { qos: 1 });
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        await c.endAsync(true);
      }
      return out;
    };
    const state = async (id: string) => ((await (await fetch(`${gw.httpUrl}/api/v1/meters/${id}/bills`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { bills: { period: string; paid: boolean; total: string }[] }).bills;
    // meter-0003: every bill refused over its cap, so all unpaid; they come again, as committed.
    const cycle = (p: string): number => Number(p.slice('cycle-'.length));
    const before3 = (await state('meter-0003')).filter((b) => !b.paid && BigInt(b.total) > 0n).map((b) => b.period).sort((a, b) => cycle(a) - cycle(b));
    const again3 = await got('meter-0003');
    const first3 = meters.find((m) => m.id === 'meter-0003')!.messages.filter((x): x is BillMessage => x.kind === 'bill');
    for (const p of before3.slice(-24)) {
      const b = again3.find((x) => x.period === p);
      assert.ok(b, `unpaid ${p} sent again (got ${again3.map((x) => x.period).join(', ')})`);
      const orig = first3.find((x) => x.period === p);
      if (orig) assert.deepEqual(Buffer.from(b.tx), Buffer.from(orig.tx), `${p}: the same bill transaction`);
    }
    // meter-0001 pays within its mandate: a paid bill is not sent again.
    const paid1 = new Set((await state('meter-0001')).filter((b) => b.paid).map((b) => b.period));
    assert.ok(paid1.size >= 2);
    const again1 = await got('meter-0001');
    assert.deepEqual(again1.filter((b) => paid1.has(b.period)).map((b) => b.period), []);
  });
});
