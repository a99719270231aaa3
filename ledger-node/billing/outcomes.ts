/**
 * What a committed block means for meters' bills topics (docs/protocol.md §8.7): each
 * bill it holds (with the autopay outcome, §19.4) and each payment it holds, read from the
 * block's transactions and the state changes they made.
 */
import {
  type BillMessage, type BillRecord, type Genesis, LedgerTxType, type PaymentMessage, type PaymentRecord, type StateChange, StateKind, big, billId,
} from '../../protocols/index.js';
import type { CommittedBlock } from '../blocks/commit.js';

/** The last value a block wrote for (kind, id). */
function lastChange(changes: readonly StateChange[], kind: string, id: string): unknown {
  for (let i = changes.length - 1; i >= 0; i--) if (changes[i]!.kind === kind && changes[i]!.id === id) return changes[i]!.value;
  return undefined;
}

export function billingMessages(genesis: Genesis, b: CommittedBlock): (BillMessage | PaymentMessage)[] {
  const out: (BillMessage | PaymentMessage)[] = [];
  for (const tx of b.txs) {
    const body = tx.body;
    if (body.type === LedgerTxType.Bill) {
      const meterId = body.bill.meterId;
      const period = body.bill.period.label;
      const id = billId(meterId, period);
      const rec = lastChange(b.changes, StateKind.Bill, id) as BillRecord | undefined;
      if (!rec) continue;
      const paid = lastChange(b.changes, StateKind.Payment, id) as PaymentRecord | undefined;
      const autopay = paid?.by === 'autopay' ? 'paid' : rec.autopayRefused;
      out.push({
        kind: 'bill', meterId, period, start: rec.start, end: rec.end, total: big(rec.total), currency: genesis.currency!.code,
        minorUnits: genesis.currency!.minorUnits, account: rec.account, payee: rec.payee, height: b.height, txHash: tx.hash, tx: tx.bytes,
        ...(autopay !== undefined ? { autopay } : {}),
      });
      if (paid?.by === 'autopay') out.push({ kind: 'payment', status: 'paid', meterId, period, amount: big(paid.amount), by: 'autopay', height: b.height, txHash: tx.hash });
    } else if (body.type === LedgerTxType.Payment) {
      const paid = lastChange(b.changes, StateKind.Payment, billId(body.meterId, body.period)) as PaymentRecord | undefined;
      if (!paid) continue;
      out.push({ kind: 'payment', status: 'paid', meterId: body.meterId, period: body.period, amount: big(paid.amount), by: paid.by, height: b.height, txHash: tx.hash });
    }
  }
  return out;
}
