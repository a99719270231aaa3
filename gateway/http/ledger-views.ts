/**
 * JSON views of ledger records (docs/billing.md §13.4) for the billing routes: amounts as
 * decimal strings of minor units (they may exceed 2^53), keys and bytes as hex.
 */
import {
  type AccountRecord, type AgreementRecord, AlgName, type BillRecord, type DisputeRecord, type MandateRecord, type PaymentRecord,
  big, toHex,
} from '../../protocols/index.js';

export const accountView = (account: string, a: AccountRecord, meters: readonly string[]) => ({
  account, alg: AlgName[a.alg], publicKey: toHex(a.publicKey), keyEpoch: a.keyEpoch, balance: big(a.balance).toString(), meters,
});

export const mandateView = (account: string, payee: string, m: MandateRecord) => ({
  account, payee, meters: m.meters, capPerBill: big(m.capPerBill).toString(), capPerMonth: big(m.capPerMonth).toString(),
  expires: m.expires, autopay: m.autopay, revoked: m.revoked, time: m.time, month: m.month, spentThisMonth: big(m.spent).toString(),
});

export const paymentView = (p: PaymentRecord) => ({
  account: p.account, payee: p.payee, amount: big(p.amount).toString(), by: p.by, height: p.height,
});

export const disputeView = (d: DisputeRecord) => ({
  account: d.account, reason: d.reason, readings: d.readings.map((s) => big(s).toString()), status: d.status, time: d.time,
  ...(d.note !== undefined ? { note: d.note } : {}),
});

/** A bill's state: what it costs, what was credited, and whether it is paid. */
export const billStateView = (meterId: string, period: string, b: BillRecord, payment: PaymentRecord | undefined) => ({
  meterId, period, account: b.account, payee: b.payee, biller: b.biller, start: b.start, end: b.end,
  total: big(b.total).toString(), credited: big(b.credited).toString(), height: b.height,
  paid: payment !== undefined, ...(b.autopayRefused !== undefined ? { autopayRefused: b.autopayRefused } : {}),
});

export const agreementView = (meterId: string, a: AgreementRecord) => ({
  meterId, billedUntil: a.billedUntil, entries: a.entries.map((e) => ({ from: e.from, tariff: e.tariff, biller: e.biller })),
});
