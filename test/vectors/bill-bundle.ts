/**
 * test/vectors/bill-bundle.json (docs/billing.md §22): a bill bundle over a chain made of
 * billing-ledger.json's own transactions (its tariff, meter-1's agreement, its readings,
 * January's bill) in blocks certified by that vector's validator-1, and tampered copies,
 * each with the code a verifier must report. The chain holds only what the bundle needs
 * (the accounts the bill's rule reads are not in it): the bundle's check reads receipts
 * one by one, each against genesis, as §22.2 says.
 */
import {
  Alg, type BillIssue, type Block, type Receipt, VoteType, billBundleToJson, decodeAnyTx, fromHex, genesisHash, headerHash, makeHeader, makeReceipt,
  parseGenesis, signMessage, signTx, toHex, TxType, voteSignBytes,
} from '../../protocols/index.js';
import { buildBillingLedger } from './billing-ledger.js';
import { seed } from './fixed.js';

interface Ledger {
  genesis: Record<string, unknown>;
  keys: Record<string, { alg: string; secretKey: string }>;
  readings: { meterId: string; seq: string; time: number; importWh: number; height: number }[];
  steps: { name: string; tx: string; ctx: { time: number } }[];
}

export function buildBillBundle(): Record<string, unknown> {
  const v = buildBillingLedger() as unknown as Ledger;
  const genesis = parseGenesis(v.genesis);
  const tx = (name: string): Uint8Array => fromHex(v.steps.find((s) => s.name === name)!.tx);
  const bill = tx('bill');
  const issue = decodeAnyTx(bill, Infinity).body as BillIssue;
  const meterId = issue.bill.meterId;
  const k = v.keys[meterId]!;
  const readingTx = (r: Ledger['readings'][number]): Uint8Array => signTx(genesis.chainId, k.alg === 'ES256' ? Alg.ES256 : Alg.EdDSA, fromHex(k.secretKey), {
    type: TxType.Reading, meterId, seq: BigInt(r.seq), time: r.time, importWh: r.importWh,
  });
  const named = new Set(issue.bill.readings.map(String));
  const readings = v.readings.filter((r) => r.meterId === meterId && named.has(r.seq));
  // Heights: 1 the tariff and the agreement, each reading at the height the ledger vector gives it, the bill above the height it was computed at.
  const billHeight = issue.height + 1;
  const txsAt = new Map<number, Uint8Array[]>([[1, [tx('tariff publication'), tx('agreement')]]]);
  for (const r of readings) txsAt.set(r.height, [...(txsAt.get(r.height) ?? []), readingTx(r)]);
  txsAt.set(billHeight, [bill]);
  const validator = seed('ledger/validator-1');
  const blocks = new Map<number, { block: Block; commit: Parameters<typeof makeReceipt>[3] }>();
  let prevHash = genesisHash(genesis);
  const certify = (height: number, txs: Uint8Array[], prev: Uint8Array, time: number) => {
    const header = makeHeader({ chainId: genesis.chainId, height, time, prevHash: prev, proposer: 'validator-1' }, txs);
    const blockHash = headerHash(header);
    const signature = signMessage(Alg.EdDSA, validator, voteSignBytes(genesis.chainId, VoteType.Precommit, height, 0, blockHash));
    return { block: { header, txs }, commit: { height, round: 0, blockHash, signatures: [{ validator: 'validator-1', signature }] } };
  };
  const FEB_2 = 1769990400000;
  for (let h = 1; h <= billHeight; h++) {
    const txs = txsAt.get(h) ?? [];
    const time = h === billHeight ? FEB_2 : 1766188800000 + h * 1000;
    const b = certify(h, txs, prevHash, time);
    blocks.set(h, b);
    prevHash = headerHash(b.block.header);
  }
  const receipt = (h: number, i: number): Receipt => makeReceipt(genesis.chainId, blocks.get(h)!.block, i, blocks.get(h)!.commit);
  const readingReceipts = readings.map((r) => receipt(r.height, txsAt.get(r.height)!.findIndex((b) => toHex(b) === toHex(readingTx(r)))));
  const bundle = {
    chainId: genesis.chainId, genesisHash: toHex(genesisHash(genesis)), bill: receipt(billHeight, 0),
    readings: readingReceipts, agreements: [receipt(1, 1)], tariffs: [receipt(1, 0)],
  };
  const json = billBundleToJson(bundle);
  // The bill with a wrong total, certified by the same validator in place of the real one: a Byzantine majority.
  const wrong = tx('bill with a wrong total: E_BILL_MISMATCH');
  const forged = certify(billHeight, [wrong], headerHash(blocks.get(billHeight - 1)!.block.header), FEB_2);
  const flip = (hex: string): string => `${hex.slice(0, -2)}${(parseInt(hex.slice(-2), 16) ^ 1).toString(16).padStart(2, '0')}`;
  const readingsJson = json.readings as string[];
  return {
    description: 'docs/billing.md §22: verify `bundle` against `genesis`; every `tampered[i].bundle` must fail with its `code` (and `field` when given)',
    genesis: v.genesis,
    genesisHash: json.genesisHash,
    bundle: json,
    proves: { meterId, period: issue.bill.period.label, total: issue.bill.total, billHeight, computedAt: issue.height, payee: issue.payee },
    tampered: [
      { name: 'another genesis hash', code: 'E_BUNDLE_GENESIS', bundle: { ...json, genesisHash: '00'.repeat(32) } },
      { name: 'the bill receipt\'s last byte flipped (its commit signature)', code: 'E_BUNDLE_RECEIPT', bundle: { ...json, bill: flip(json.bill as string) } },
      { name: 'a reading the bill names left out', code: 'E_BUNDLE_INCOMPLETE', bundle: { ...json, readings: readingsJson.slice(1) } },
      { name: 'a reading where the bill goes', code: 'E_BUNDLE_WRONG_TX', bundle: { ...json, bill: readingsJson[0] } },
      { name: 'the agreement given as a tariff', code: 'E_BUNDLE_WRONG_TX', bundle: { ...json, tariffs: json.agreements } },
      { name: 'no tariff versions', code: 'E_BILL_NO_TARIFF', bundle: { ...json, tariffs: [] } },
      { name: 'an unknown field', code: 'E_BUNDLE_MALFORMED', bundle: { ...json, note: 'trust me' } },
      {
        name: 'a bill with a wrong total, certified anyway', code: 'E_BILL_MISMATCH', field: 'total',
        bundle: { ...json, bill: billBundleToJson({ ...bundle, bill: makeReceipt(genesis.chainId, forged.block, 0, forged.commit) }).bill },
      },
    ],
  };
}
