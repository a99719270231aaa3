/**
 * A meter's period key transactions (type 5, docs/protocol.md §11.6) with their receipts,
 * from the transaction index: all of them by the meter's subject, or one period key by
 * its (meter, keyId) subject (protocols/subjects.ts). What a recipient needs to open the
 * meter's sealed readings; the gateway hands them out, it never opens them.
 */
import { PERIOD_KEY_TX_TYPE, type Receipt, decodeAnyTx, toHex, txSubject } from '../../protocols/index.js';
import type { LedgerStore } from '../store/store.js';
import { ReceiptReader } from './receipts.js';

/** The receipts of meter `meterId`'s period key transactions in chain order; only keyId's when given. */
export async function periodKeyReceipts(store: LedgerStore, chainId: string, meterId: string, keyId?: Uint8Array): Promise<Receipt[]> {
  const reader = new ReceiptReader(store, chainId);
  const subject = keyId ? txSubject.periodKey(meterId, toHex(keyId)) : txSubject.meter(meterId);
  const out: Receipt[] = [];
  for await (const pos of store.txsAbout(subject)) {
    const r = await reader.at(pos);
    if (decodeAnyTx(r.tx, Infinity).body.type === PERIOD_KEY_TX_TYPE) out.push(r);
  }
  return out;
}
