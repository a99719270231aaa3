/**
 * Issue #12, consensus: a Byzantine proposer that includes a wrong bill gets it refused by
 * the honest validators. The production consensus code under the seeded adversary of
 * ../helpers/consensus-sim.ts, each honest validator checking blocks' ledger transactions
 * with the real rules over its own state (../helpers/sim-ledger.ts): the Byzantine
 * validator's invalid proposals carry a bill signed by the biller whose total is a cent
 * too high, which only recomputing the bill exposes (E_BILL_MISMATCH). No honest
 * validator commits it; the right bill and its payment commit; all honest validators at
 * a height hold the same balances. SIM_SEED=<n> replays one seed, SIM_SEEDS=<n> runs more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulate } from '../helpers/consensus-sim.js';
import { SimLedger } from '../helpers/sim-ledger.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 50);
const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

test(`a Byzantine proposer's wrong bill is refused by the honest validators (E_BILL_MISMATCH); all hold the same balances (${only ?? SEEDS} seeds)`, async () => {
  const failures: string[] = [];
  let mismatches = 0;
  for (const seed of only !== undefined ? [only] : Array.from({ length: SEEDS }, (_, i) => i + 1)) {
    const ledger = new SimLedger();
    const r = await simulate({ seed, ledger, targetHeight: 6 });
    if (r.violations.length) failures.push(`seed ${seed} (SIM_SEED=${seed}): ${r.violations.slice(0, 3).join('; ')}`);
    mismatches += ledger.refusals.get('E_BILL_MISMATCH') ?? 0;
    // Every honest validator at the target committed the bill and its payment: John paid the bill's total, once.
    for (const [id, l] of Object.entries(r.ledgers!)) {
      if (l.height < 6) continue;
      const d = JSON.parse(l.digest) as { john: { balance: string }; superenergy: { balance: string }; bill?: { total: string }; payment?: { amount: string } };
      if (!d.bill || !d.payment) failures.push(`seed ${seed}: ${id} at height ${l.height} lacks the bill or its payment`);
      else if (BigInt(d.bill.total) !== ledger.total || BigInt(d.john.balance) !== 20_000n - ledger.total || BigInt(d.superenergy.balance) !== ledger.total) {
        failures.push(`seed ${seed}: ${id} holds ${l.digest}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(mismatches > 0, 'the Byzantine validator proposed its wrong bill and honest validators refused it by recomputing it');
});
