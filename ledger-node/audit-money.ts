/**
 * The audit's money checks (issue 12): while blocks replay, every payment is the first of
 * its bill, and every payment under a mandate keeps within its caps; at the end, no
 * balance is negative, no mandate's month is above its cap, and the sum of balances is
 * deposits minus withdrawals (credit notes and payments only move money between
 * accounts). Every bill is recomputed by the replay itself (validateBlock runs the bill
 * rule, docs/billing.md §17); this counts them. Codes: protocols ProofCode.
 */
import {
  type AccountRecord, type BillRecord, LedgerTxType, type MandateRecord, type PaymentRecord, ProofCode, type SignedTx, type StateChange, StateKind,
  type StateReader, type TransferRecord, type TxBody, big, mandateId,
} from '../protocols/index.js';
import type { ChainState } from './state/layers.js';

export interface MoneyProblem {
  readonly code: ProofCode;
  readonly reason: string;
}

export class MoneyAudit {
  bills = 0;
  payments = 0;

  /** Check one block's changes against the state before it; a problem, or undefined. */
  block(before: StateReader, txs: readonly SignedTx<TxBody>[], changes: readonly StateChange[]): MoneyProblem | undefined {
    this.bills += txs.filter((t) => t.body.type === LedgerTxType.Bill).length;
    const mandates = new Map(changes.filter((c) => c.kind === StateKind.Mandate && c.value !== null).map((c) => [c.id, c.value as MandateRecord]));
    for (const c of changes) {
      if (c.kind !== StateKind.Payment || c.value === null) continue;
      this.payments++;
      const p = c.value as PaymentRecord;
      if (before.get(StateKind.Payment, c.id) !== undefined) return { code: ProofCode.AUDIT_PAYMENT, reason: `bill ${c.id} is paid a second time` };
      const bill = before.get(StateKind.Bill, c.id) as BillRecord | undefined ?? changes.find((x) => x.kind === StateKind.Bill && x.id === c.id)?.value as BillRecord | undefined;
      if (!bill) return { code: ProofCode.AUDIT_PAYMENT, reason: `payment of ${c.id}, which has no bill` };
      if (big(p.amount) !== big(bill.total)) return { code: ProofCode.AUDIT_PAYMENT, reason: `payment of ${c.id} of ${p.amount} is not the bill's total, ${big(bill.total)}` };
      if (p.by === 'owner') continue;
      const m = mandates.get(mandateId(p.account, p.payee));
      if (!m) return { code: ProofCode.AUDIT_CAP, reason: `payment of ${c.id} by ${p.by} without its mandate's spending recorded` };
      if (big(p.amount) > big(m.capPerBill)) return { code: ProofCode.AUDIT_CAP, reason: `payment of ${c.id} of ${p.amount} is above the mandate's cap per bill ${big(m.capPerBill)}` };
      if (big(m.spent) > big(m.capPerMonth)) return { code: ProofCode.AUDIT_CAP, reason: `mandate ${mandateId(p.account, p.payee)} spent ${big(m.spent)} in ${m.month}, above its cap per month ${big(m.capPerMonth)}` };
    }
    return undefined;
  }

  /** The end state's totals: conservation, balances, caps. */
  final(state: ChainState): MoneyProblem | { summary?: string } {
    let balances = 0n;
    for (const id of state.ids(StateKind.Account)) {
      const a = state.committed.get(StateKind.Account, id) as AccountRecord;
      if (big(a.balance) < 0n) return { code: ProofCode.AUDIT_BALANCE, reason: `account "${id}" has a negative balance, ${big(a.balance)}` };
      balances += big(a.balance);
    }
    let deposits = 0n;
    let withdrawals = 0n;
    for (const id of state.ids(StateKind.Transfer)) {
      const t = state.committed.get(StateKind.Transfer, id) as TransferRecord;
      if (t.kind === 'deposit') deposits += big(t.amount);
      else withdrawals += big(t.amount);
    }
    if (balances !== deposits - withdrawals) {
      return { code: ProofCode.AUDIT_CONSERVATION, reason: `the balances sum to ${balances}, deposits minus withdrawals are ${deposits} - ${withdrawals} = ${deposits - withdrawals}` };
    }
    for (const id of state.ids(StateKind.Mandate)) {
      const m = state.committed.get(StateKind.Mandate, id) as MandateRecord;
      if (big(m.spent) > big(m.capPerMonth)) return { code: ProofCode.AUDIT_CAP, reason: `mandate ${id} spent ${big(m.spent)} in ${m.month}, above its cap per month ${big(m.capPerMonth)}` };
    }
    const accounts = state.ids(StateKind.Account).length;
    if (accounts === 0 && this.bills === 0) return {};
    return { summary: `${this.bills} bills recomputed, ${this.payments} payments (none twice, within their mandates), ${accounts} accounts holding ${balances} = deposits ${deposits} - withdrawals ${withdrawals}` };
  }
}
