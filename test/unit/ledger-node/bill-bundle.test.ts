/**
 * Receipts for every transaction type, and bill bundles (docs/billing.md §22), over a
 * chain a real LedgerNode built from test/vectors/billing-ledger.json (memory store):
 * the transaction index answers every committed transaction's receipt, which verifies
 * with the genesis alone; a bill's bundle verifies and recomputes its bill offline; each
 * kind of tampering is caught with its code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Alg, type BillBundle, BundleError, LedgerTxType, ProofCode, ReasonCode, type Receipt, TxType, VoteType, billBundleFromJson, billBundleToJson,
  decodeAnyTx, decodeBlock, headerHash, makeHeader, makeReceipt, parseGenesis, sha256, signMessage, toHex, verifyBillBundle, verifyReceipt, voteSignBytes,
} from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import type { LedgerNode } from '../../../ledger-node/node.js';
import { type BillingChain, buildBillingChain } from '../../helpers/billing-chain.js';
import { inMemory } from '../../helpers/memory-store.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BundleError, String(e));
    return e.code;
  }
  return 'ok';
};

describe('receipts of every transaction type, and bill bundles', () => {
  let bc: BillingChain;
  let node: LedgerNode;
  let bundle: BillBundle;

  before(async () => {
    bc = await buildBillingChain({ openStore: inMemory });
    node = await bc.open();
    bundle = (await node.getBillBundle('meter-1', '2026-01'))!;
    assert.ok(bundle, 'meter-1 has a bundle for January');
  });
  after(async () => {
    await node?.close();
    bc?.chain.cleanup();
  });

  test('every committed transaction, of every type, has a receipt by its hash that verifies with the genesis alone', async () => {
    const seen = new Set<number>();
    for (let h = 1; h <= node.status().height; h++) {
      const b = (await node.getBlock(h))!;
      for (const [i, bytes] of b.txs.entries()) {
        const r = await node.getTxReceipt(sha256(bytes));
        assert.ok(r, `receipt of ${h}:${i}`);
        assert.equal(r.header.height, h);
        assert.equal(r.index, i);
        const v = verifyReceipt(bc.genesis, r);
        seen.add(v.tx.body.type);
      }
    }
    // Readings, meter registrations and ten ledger types: bills, payments, deposits among them.
    for (const t of [TxType.Reading, TxType.MeterRegister, LedgerTxType.AccountOpen, LedgerTxType.Deposit, LedgerTxType.Withdrawal, LedgerTxType.TariffPublish,
      LedgerTxType.Agreement, LedgerTxType.Bill, LedgerTxType.Mandate, LedgerTxType.Payment]) assert.ok(seen.has(t), `type ${t} was receipted`);
    assert.equal(await node.getTxReceipt(new Uint8Array(32)), undefined);
  });

  test('a genesis operator\'s transaction has its signature checked by verifyReceipt; the receipt of a flipped byte fails', async () => {
    const r = (await node.getTxReceipt(sha256(bc.tx('bill'))))!;
    const v = verifyReceipt(bc.genesis, r);
    assert.equal(v.tx.body.type, LedgerTxType.Bill);
    assert.equal(v.signatureChecked, true, 'the biller is a genesis operator');
    const tx = r.tx.slice();
    tx[tx.length - 1]! ^= 1;
    assert.throws(() => verifyReceipt(bc.genesis, { ...r, tx }), { code: 'E_RECEIPT_INVALID' });
  });

  test('the bundle verifies: every receipt, the bill recomputed from them equals the committed one', () => {
    const v = verifyBillBundle(bc.genesis, bundle);
    assert.equal(v.bill.meterId, 'meter-1');
    assert.equal(v.bill.total, 7874);
    assert.equal(v.readings, v.bill.readings.length);
    assert.ok(v.readings >= 2 && v.agreements === 1 && v.tariffVersions === 1, `${v.readings} readings, ${v.agreements} agreements, ${v.tariffVersions} tariff versions`);
    // The JSON form round-trips, and verifies the same.
    const again = billBundleFromJson(JSON.parse(JSON.stringify(billBundleToJson(bundle))));
    assert.deepEqual(verifyBillBundle(bc.genesis, again), v);
    assert.equal(code(() => verifyBillBundle(bc.genesis, bundle)), 'ok');
  });

  test('tampering is caught with its code: genesis, receipts, transactions in the wrong place, missing readings, missing tariffs', async () => {
    const other = parseGenesis({ ...JSON.parse(JSON.stringify(bc.genesis)), chainId: 'another-chain' });
    assert.equal(code(() => verifyBillBundle(other, bundle)), ProofCode.BUNDLE_GENESIS);
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, genesisHash: '00'.repeat(32) })), ProofCode.BUNDLE_GENESIS);
    const flipped = (r: Receipt): Receipt => {
      const tx = r.tx.slice();
      tx[tx.length - 1]! ^= 1;
      return { ...r, tx };
    };
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, bill: flipped(bundle.bill) })), ProofCode.BUNDLE_RECEIPT);
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, readings: [flipped(bundle.readings[0]!), ...bundle.readings.slice(1)] })), ProofCode.BUNDLE_RECEIPT);
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, readings: bundle.readings.slice(1) })), ProofCode.BUNDLE_INCOMPLETE);
    const other2 = (await node.getBillBundle('meter-2', '2026-01'))!;
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, readings: [...bundle.readings.slice(1), other2.readings[0]!] })), ProofCode.BUNDLE_WRONG_TX, 'a reading of another meter');
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, bill: bundle.readings[0]! })), ProofCode.BUNDLE_WRONG_TX, 'a reading where the bill goes');
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, agreements: other2.agreements })), ProofCode.BUNDLE_WRONG_TX, 'another meter\'s agreement');
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, tariffs: [] })), ReasonCode.BILL_NO_TARIFF);
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, agreements: [] })), ProofCode.BUNDLE_WRONG_TX, 'a tariff no agreement names');
    assert.equal(code(() => verifyBillBundle(bc.genesis, { ...bundle, agreements: [], tariffs: [] })), ReasonCode.BILL_NO_AGREEMENT);
    assert.throws(() => billBundleFromJson({ ...billBundleToJson(bundle), extra: 1 }), { code: 'E_BUNDLE_MALFORMED', message: /^unknown field "extra"/ });
    assert.throws(() => billBundleFromJson({ ...billBundleToJson(bundle), bill: 'zz' }), { code: 'E_BUNDLE_MALFORMED', message: /^bill/ });
  });

  test('a wrong bill that validators signed anyway (a Byzantine majority) is caught offline: E_BILL_MISMATCH naming the first difference', async () => {
    // The vector's bill with a wrong total, in a block the test validator certifies at the height of the real bill.
    const wrong = bc.tx('bill with a wrong total: E_BILL_MISMATCH');
    const at = bundle.bill.header;
    const header = makeHeader({ chainId: at.chainId, height: at.height, time: at.time, prevHash: at.prevHash, proposer: at.proposer }, [wrong]);
    const key = loadKeyFile(dataPaths(bc.chain.dataDir).validatorKey);
    const blockHash = headerHash(header);
    const commit = { height: at.height, round: 0, blockHash, signatures: [{ validator: bc.genesis.validators[0]!.id, signature: signMessage(Alg.EdDSA, key.secretKey, voteSignBytes(at.chainId, VoteType.Precommit, at.height, 0, blockHash)) }] };
    const forged = makeReceipt(at.chainId, { header, txs: [wrong] }, 0, commit);
    verifyReceipt(bc.genesis, forged); // the certificate holds
    assert.equal((decodeAnyTx(wrong, Infinity).body as { bill: { meterId: string } }).bill.meterId, 'meter-1');
    try {
      verifyBillBundle(bc.genesis, { ...bundle, bill: forged });
      assert.fail('a wrong bill verified');
    } catch (e) {
      assert.ok(e instanceof BundleError, String(e));
      assert.equal(e.code, ReasonCode.BILL_MISMATCH);
      assert.equal(e.field, 'total');
      assert.match(e.message, /total: committed \d+, recomputed 7874/);
    }
  });

  test('the blocks the bundle\'s receipts come from are the node\'s own', async () => {
    for (const r of [bundle.bill, ...bundle.readings, ...bundle.agreements, ...bundle.tariffs]) {
      const b = (await node.getBlock(r.header.height))!;
      assert.equal(toHex(b.hash), toHex(headerHash(r.header)));
      assert.equal(toHex(decodeBlock((await node.getBlockBytes(r.header.height))!.block).txs[r.index]!), toHex(r.tx));
    }
  });
});
