/**
 * A bill's bundle (docs/billing.md §22) from the store: the bill's receipt, its
 * readings' (by the reading index), the meter's agreements' and its tariffs' (by the
 * transaction index's subjects, protocols/subjects.ts). What goes in is what §22.1 says a
 * bundle holds; protocols' verifyBillBundle checks it offline.
 */
import {
  type AgreementSet, type BillBundle, type BillIssue, LedgerTxType, ProtocolError, type Receipt, decodeAnyTx, genesisHash, toHex, txSubject,
  type Genesis,
} from '../../protocols/index.js';
import type { LedgerStore } from '../store/store.js';
import { ReceiptReader } from './receipts.js';

const body = (r: Receipt) => decodeAnyTx(r.tx, Infinity).body;
const before = (r: Receipt, at: Receipt): boolean => r.header.height < at.header.height || (r.header.height === at.header.height && r.index < at.index);

/** The bundle of meter `meterId`'s bill for `period`, or undefined when there is no such bill. */
export async function billBundle(store: LedgerStore, genesis: Genesis, meterId: string, period: string): Promise<BillBundle | undefined> {
  const reader = new ReceiptReader(store, genesis.chainId);
  let bill: Receipt | undefined;
  for await (const pos of store.txsAbout(txSubject.bill(meterId, period))) {
    const r = await reader.at(pos);
    if (body(r).type === LedgerTxType.Bill) {
      bill = r;
      break;
    }
  }
  if (!bill) return undefined;
  const issue = body(bill) as BillIssue;

  const readings: Receipt[] = [];
  for (const seq of issue.bill.readings) {
    const pos = await store.readingPosition(meterId, seq);
    if (!pos) throw new ProtocolError('E_STORE_CORRUPT', `bill ${meterId}/${period} names reading ${seq}, which the reading index does not hold`);
    readings.push(await reader.at(pos));
  }
  const agreements: Receipt[] = [];
  const names = new Set<string>();
  for await (const pos of store.txsAbout(txSubject.agreement(meterId))) {
    const r = await reader.at(pos);
    if (!before(r, bill)) break; // chain order
    agreements.push(r);
    const tariff = (body(r) as AgreementSet).tariff;
    if (tariff !== null) names.add(tariff);
  }
  const tariffs: Receipt[] = [];
  for (const name of [...names].sort()) {
    for await (const pos of store.txsAbout(txSubject.tariff(name))) {
      const r = await reader.at(pos);
      if (!before(r, bill)) break;
      tariffs.push(r);
    }
  }
  return { chainId: genesis.chainId, genesisHash: toHex(genesisHash(genesis)), bill, readings, agreements, tariffs };
}
