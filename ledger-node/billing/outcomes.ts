/**
 * What a committed block means for meters' bills topics (docs/protocol.md §8.7): each
 * bill it holds (with the autopay outcome, §19.4) and each payment it holds, read from the
 * block's transactions and the state changes they made; and the refusal of an accepted
 * payment that a block made invalid.
 */
import {
  type BillMessage, type BillRecord, type Genesis, LedgerTxType, type PaymentMessage, type PaymentRecord, type StateChange, StateKind, big, billId, fromHex,
} from '../../protocols/index.js';
import type { CommittedBill } from '../api.js';
import type { CommittedBlock } from '../blocks/commit.js';
import type { DroppedTx } from '../drops.js';

/** At most this many unpaid bills are sent again to a meter that subscribes (the latest). */
export const MAX_RESENT_BILLS = 24;

/** What unpaidBillMessages reads of the committed state (LedgerNode has it). */
export interface UnpaidBillsSource {
  recordIds(kind: StateKind, prefix?: string): string[];
  record(kind: StateKind, id: string): unknown;
  committedBill(meterId: string, period: string): Promise<CommittedBill | undefined>;
}

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

/**
 * A payment the node had accepted and a block then made invalid (ledger-node/drops.ts), as
 * the meter hears of it: the refusal it would have got at submission (docs/billing.md
 * §19.5); undefined for any other transaction.
 */
export function droppedPaymentMessage(d: DroppedTx): PaymentMessage | undefined {
  const body = d.tx.body;
  if (body.type !== LedgerTxType.Payment) return undefined;
  return { kind: 'payment', status: 'refused', meterId: body.meterId, period: body.period, code: d.code, message: d.message, txHash: d.tx.hash };
}

/**
 * The meter's committed bills with something due and no payment, as the bill messages
 * their blocks published, oldest first: at most the latest MAX_RESENT_BILLS. Sent again
 * when the meter subscribes to its bills topic (docs/protocol.md §8.7), so a bill committed
 * while it was away, during a gateway's stop, or on another gateway still reaches it.
 */
export async function unpaidBillMessages(genesis: Genesis, src: UnpaidBillsSource, meterId: string): Promise<BillMessage[]> {
  if (!genesis.currency) return [];
  const due: { period: string; rec: BillRecord }[] = [];
  for (const id of src.recordIds(StateKind.Bill, `${meterId}/`)) {
    const rec = src.record(StateKind.Bill, id) as BillRecord | undefined;
    if (!rec || big(rec.total) <= 0n || src.record(StateKind.Payment, id) !== undefined) continue;
    due.push({ period: id.slice(meterId.length + 1), rec });
  }
  due.sort((a, b) => a.rec.height - b.rec.height || a.rec.start - b.rec.start);
  const out: BillMessage[] = [];
  for (const { period, rec } of due.slice(-MAX_RESENT_BILLS)) {
    const c = await src.committedBill(meterId, period);
    if (!c) continue;
    out.push({
      kind: 'bill', meterId, period, start: rec.start, end: rec.end, total: big(rec.total), currency: genesis.currency.code,
      minorUnits: genesis.currency.minorUnits, account: rec.account, payee: rec.payee, height: c.height, txHash: fromHex(c.txHash), tx: c.bytes,
      ...(rec.autopayRefused !== undefined ? { autopay: rec.autopayRefused } : {}),
    });
  }
  return out;
}
