/**
 * A confidential meter's bill on a LedgerNode over its real LevelDB store (docs/billing.md
 * §17.2, docs/protocol.md §11.7): the biller's AutoIssuer computes the bill from the opened
 * readings with its disclosures; the node refuses the same bill re-signed with a wrong
 * disclosed key (E_CONF_BAD_DISCLOSURE_KEY) or a misstated disclosed value
 * (E_BILL_DISCLOSED_VALUE), accepts and commits the honest one; after a reopen the bill is
 * loaded from the store, and the audit (every block through the block validation path,
 * `meterledger verify`) passes with it.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type BillIssue, type BillRecord, LedgerTxType, ReasonCode, StateKind, billId, decodeAnyTx, toHex,
} from '../../../protocols/index.js';
import { AutoIssuer } from '../../../ledger-node/billing/auto-issue.js';
import { DEV_BILLER_RECIPIENT, dataPaths } from '../../../ledger-node/devchain.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { loadRecipientKeyFile } from '../../../ledger-node/recipient-keyfile.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { auditStore } from '../../../ledger-node/audit.js';
import { readConfidentialPeriod } from '../../helpers/confidential-period.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { until } from '../../helpers/until.js';

const CYCLE = 10_000;

describe('a confidential meter\'s bill with disclosures on the real store', { timeout: 120_000 }, () => {
  const chain = makeTestChain({ meters: 1, billing: { cycleMs: CYCLE }, confidential: true });
  after(() => chain.cleanup());
  const epoch = Date.parse(chain.genesis.billingCycle!.epoch);
  let clock = epoch + 1000;
  const open = () => LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 0, now: () => clock });

  test('wrong key and misstated value refused with their codes; the honest bill committed, loaded after reopen, audited', async () => {
    let node = await open();
    const settled = (): Promise<void> => until('committed', () => node.status().pending === 0, 20_000, 10);
    const { meter, plan, keys, period } = await readConfidentialPeriod({
      chain, node, cycleMs: CYCLE, clock: () => clock, advance: (t) => { clock = Math.max(clock, t); }, baseWh: 2_000_000, stepWh: 37,
    });
    clock = period.end + 5000;

    // The biller computes the bill; the test holds it back to tamper with it first.
    const held: Uint8Array[] = [];
    const secret = loadRecipientKeyFile(dataPaths(chain.dataDir).recipientKey(DEV_BILLER_RECIPIENT));
    await new AutoIssuer({
      genesis: chain.genesis, key: chain.operatorKey, payee: plan.payee, view: node.billingView(), now: () => clock, logger: silentLogger,
      submit: async (b) => {
        held.push(b);
        return { status: 'rejected', txHash: new Uint8Array(32), code: ReasonCode.BUSY, message: 'held by the test' };
      },
      recipient: { id: secret.key.id, recipient: secret.recipient, periodKey: (m, id) => keys.find((k) => k.meterId === m && toHex(k.keyId) === id) },
    }).pass();
    assert.equal(held.length, 1);
    const honest = decodeAnyTx(held[0]!, Infinity).body as BillIssue;
    assert.equal(honest.type, LedgerTxType.Bill);
    const ds = honest.disclosures!;
    assert.ok(ds.length >= 2, `the bill discloses its boundary readings: ${ds.length}`);
    const resign = (disclosures: typeof ds): Uint8Array => chain.operatorTx({ ...honest, disclosures } as BillIssue);

    const refused = async (bytes: Uint8Array): Promise<string> => {
      const r = await node.submitTx(bytes);
      return r.status === 'rejected' ? r.code : 'accepted';
    };
    assert.equal(await refused(resign([{ ...ds[0]!, contentKey: ds[1]!.contentKey }, ...ds.slice(1)])), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'reading 1 disclosed with the key of reading 2');
    const key = new Uint8Array(ds[0]!.contentKey);
    key[0]! ^= 1;
    assert.equal(await refused(resign([{ ...ds[0]!, contentKey: key }, ...ds.slice(1)])), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'a disclosed key one bit off');
    assert.equal(await refused(resign([ds[0]!, { ...ds[1]!, importWh: ds[1]!.importWh + 1 }, ...ds.slice(2)])), ReasonCode.BILL_DISCLOSED_VALUE, 'a disclosed importWh one more');
    assert.equal(node.billingView().tip.get(StateKind.Bill, billId(meter, period.label)), undefined, 'nothing billed by the refused ones');
    assert.equal(await refused(held[0]!), 'accepted');
    await settled();
    const total = (node.billingView().committed.get(StateKind.Bill, billId(meter, period.label)) as BillRecord).total;
    await node.close();

    // Reopened from LevelDB: the bill is there; the audit replays every block, the bill with its disclosures too.
    node = await open();
    const rec = node.billingView().committed.get(StateKind.Bill, billId(meter, period.label)) as BillRecord | undefined;
    assert.ok(rec, 'the committed bill is loaded from the store');
    assert.equal(BigInt(rec.total), BigInt(total));
    assert.ok(BigInt(rec.total) > 0n);
    await node.close();
    const audit = await auditStore(chain.dataDir, chain.genesis);
    assert.equal(audit.ok, true, JSON.stringify(audit));
  });
});
