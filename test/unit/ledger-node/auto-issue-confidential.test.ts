/**
 * billing.autoIssue of a confidential meter (docs/billing.md §17.2) on a LedgerNode (memory
 * store, a clock the test moves): without the biller's recipient key nothing is submitted;
 * with it, the bill is computed from the opened readings, discloses exactly the readings it
 * names, and every rule of the node accepts and commits it, while the other readings of the
 * period stay sealed.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type BillRecord, LedgerTxType, StateKind, billId, decodeAnyTx, toHex,
} from '../../../protocols/index.js';
import { AutoIssuer } from '../../../ledger-node/billing/auto-issue.js';
import { DEV_BILLER_RECIPIENT, dataPaths } from '../../../ledger-node/devchain.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { loadRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { readConfidentialPeriod } from '../../helpers/confidential-period.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';
import { until } from '../../helpers/until.js';

const CYCLE = 10_000;

describe('billing.autoIssue of a confidential meter', { timeout: 60_000 }, () => {
  const chain = makeTestChain({ meters: 1, billing: { cycleMs: CYCLE }, confidential: true });
  after(() => chain.cleanup());
  const epoch = Date.parse(chain.genesis.billingCycle!.epoch);
  let clock = epoch + 1000;

  test('no recipient key: skipped; with it: issued with the disclosures the rule requires, accepted and committed', async () => {
    const node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 0, now: () => clock });
    const settled = (): Promise<void> => until('committed', () => node.status().pending === 0, 20_000, 10);
    const { meter, plan, keys, period, readings } = await readConfidentialPeriod({
      chain, node, cycleMs: CYCLE, clock: () => clock, advance: (t) => { clock = Math.max(clock, t); }, baseWh: 1_000_000, stepWh: 100,
    });
    assert.equal(keys.length, 2, 'a period key for each of the two cycles read in');
    clock = period.end + 5000;

    const submitted: Uint8Array[] = [];
    const issuer = (withKey: boolean): AutoIssuer => {
      const secret = loadRecipientKeyFile(dataPaths(chain.dataDir).recipientKey(DEV_BILLER_RECIPIENT));
      return new AutoIssuer({
        genesis: chain.genesis, key: chain.operatorKey, payee: plan.payee, view: node.billingView(), now: () => clock, logger: silentLogger,
        submit: (b) => {
          submitted.push(b);
          return node.submitTx(b);
        },
        ...(withKey ? { recipient: { id: secret.key.id, recipient: secret.recipient, periodKey: (m, id) => keys.find((k) => k.meterId === m && toHex(k.keyId) === id) } } : {}),
      });
    };
    await issuer(false).pass();
    assert.equal(submitted.length, 0, 'no recipient key: a confidential meter is not billed');
    await issuer(true).pass();
    assert.equal(submitted.length, 1, 'with the key: one bill');
    await settled();
    const rec = node.billingView().committed.get(StateKind.Bill, billId(meter, period.label)) as BillRecord | undefined;
    assert.ok(rec, 'every rule of the node accepted the bill and it is committed');
    const body = decodeAnyTx(submitted[0]!, Infinity).body;
    assert.ok(body.type === LedgerTxType.Bill && body.disclosures);
    assert.deepEqual(body.disclosures.map((d) => d.seq), [...body.bill.readings], 'discloses exactly the readings the bill names');
    assert.ok(body.disclosures.length < readings, `the other readings stay sealed: ${body.disclosures.length} of ${readings} disclosed`);
    assert.ok(BigInt(rec.total) > 0n);
    await node.close();
  });
});
