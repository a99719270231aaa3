/**
 * The first billing cycle of a confidential dev chain's meter-0001, read in on a LedgerNode
 * (whatever its store): the dev billing setup (agreement, mandate ...) committed, then a
 * sealed reading every second of the period and one after it, each with its period key when
 * a new cycle starts, every one accepted. Shared by the unit test (memory store) and the
 * integration test (LevelDB) of a confidential bill; nothing here opens a store or socket.
 */
import assert from 'node:assert/strict';
import { PERIOD_KEY_TX_TYPE, type PeriodKeyBody, StateKind, TxType, decodeAnyTx } from '../../protocols/index.js';
import { nextPeriod } from '../../ledger-node/billing/auto-issue.js';
import { type DevBillingPlan, readDevBillingPlan, runDevBillingSetup } from '../../ledger-node/billing/dev-setup.js';
import type { LedgerNode } from '../../ledger-node/node.js';
import { silentLogger } from '../../ledger-node/api.js';
import { SealingMeter } from '../../gateway/sim/sealing.js';
import type { TestChain } from './devchain.js';
import { until } from './until.js';

export interface ConfidentialPeriod {
  readonly meter: string;
  readonly plan: DevBillingPlan;
  /** The period keys the meter published, in order. */
  readonly keys: PeriodKeyBody[];
  readonly period: ReturnType<typeof nextPeriod>;
  /** How many readings were sent (all accepted). */
  readonly readings: number;
}

/**
 * `clock()` is the node's clock and `advance(t)` moves it to at least `t`; reading `n`
 * (from 1) carries importWh `baseWh + (n + 1) * stepWh`.
 */
export async function readConfidentialPeriod(o: {
  chain: TestChain; node: LedgerNode; cycleMs: number; clock: () => number; advance: (t: number) => void; baseWh: number; stepWh: number;
}): Promise<ConfidentialPeriod> {
  const { chain, node } = o;
  const epoch = Date.parse(chain.genesis.billingCycle!.epoch);
  const settled = (): Promise<void> => until('committed', () => node.status().pending === 0, 20_000, 10);
  const plan = readDevBillingPlan(chain.dataDir)!;
  await runDevBillingSetup(chain.dataDir, plan, { genesis: chain.genesis, tip: node.billingView().tip, submit: (b) => node.submitTx(b), now: o.clock }, silentLogger);
  await settled();

  const meter = 'meter-0001';
  const sealer = new SealingMeter(chain.genesis, meter, chain.meterKeys.get(meter)!, SealingMeter.recipientsIn(chain.genesis).get(meter)!);
  const keys: PeriodKeyBody[] = [];
  const from = (node.billingView().committed.get(StateKind.Agreement, meter) as { entries: { from: number }[] }).entries[0]!.from;
  const period = nextPeriod({ entries: [{ from, tariff: 'dev-tou', biller: 'operator-0' }], billedUntil: 0 }, [], [], { epoch, lengthMs: o.cycleMs });
  let seq = 1n;
  const read = async (t: number): Promise<void> => {
    o.advance(t);
    const k = sealer.periodKeyFor(t);
    if (k) {
      assert.equal((await node.submitTx(k)).status, 'accepted');
      keys.push(decodeAnyTx(k, Infinity).body as PeriodKeyBody);
    }
    const r = await node.submitTx(sealer.seal({ type: TxType.Reading, meterId: meter, seq: seq++, time: t, importWh: o.baseWh + Number(seq) * o.stepWh }));
    assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.code : '');
  };
  for (let t = period.start; t < period.end; t += 1000) await read(t);
  await read(period.end + 2000);
  await settled();
  assert.ok(keys.every((k) => k.type === PERIOD_KEY_TX_TYPE));
  return { meter, plan, keys, period, readings: Number(seq) - 1 };
}
