/**
 * An account's money transactions from the store, with their receipts (the portal's
 * payments page): deposits and withdrawals (by the transaction index's subject
 * account/<id>, protocols/subjects.ts) and the payments of the bills it pays (subject
 * bill/<meter>/<period>), in chain order.
 */
import { LedgerTxType, type Receipt, decodeAnyTx, txSubject } from '../../protocols/index.js';
import type { LedgerStore } from '../store/store.js';
import { ReceiptReader } from './receipts.js';

/** Deposits, withdrawals and the payments of `billIds` ("meter/period"), oldest first. */
export async function accountMoney(store: LedgerStore, chainId: string, account: string, billIds: readonly string[]): Promise<Receipt[]> {
  const reader = new ReceiptReader(store, chainId);
  const out: Receipt[] = [];
  const type = (r: Receipt): number => decodeAnyTx(r.tx, Infinity).body.type;
  for await (const pos of store.txsAbout(txSubject.account(account))) {
    const r = await reader.at(pos);
    const t = type(r);
    if (t === LedgerTxType.Deposit || t === LedgerTxType.Withdrawal) out.push(r);
  }
  for (const id of billIds) {
    const cut = id.lastIndexOf('/');
    for await (const pos of store.txsAbout(txSubject.bill(id.slice(0, cut), id.slice(cut + 1)))) {
      const r = await reader.at(pos);
      if (type(r) === LedgerTxType.Payment) out.push(r);
    }
  }
  return out.sort((a, b) => a.header.height - b.header.height || a.index - b.index);
}
