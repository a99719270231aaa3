/**
 * What a transaction is about, as names a store can index (docs/protocol.md §7.2): the
 * history of a bill (its issue, payment, dispute, credit note), of an account, a tariff,
 * a meter's agreements. A receipt bundle (docs/billing.md §22) is assembled from these
 * lists, so they are part of the protocol: a second gateway lists the same transactions.
 * Readings have none (the reading index, by meter and seq, covers them).
 */
import { TxType, type TxBody } from './tx.js';
import { LedgerTxType } from './billing/txs.js';
import { PERIOD_KEY_TX_TYPE } from './confidential/period-key.js';
import { VALSET_TX_TYPE } from './validator-set.js';
import { toHex } from './bytes.js';

export const txSubject = {
  meter: (meterId: string) => `meter/${meterId}`,
  account: (account: string) => `account/${account}`,
  tariff: (name: string) => `tariff/${name}`,
  agreement: (meterId: string) => `agreement/${meterId}`,
  bill: (meterId: string, period: string) => `bill/${meterId}/${period}`,
  mandate: (account: string, payee: string) => `mandate/${account}/${payee}`,
  /** Every validator-set change (type 20), in chain order: the set changes of docs/protocol.md §13.5. */
  validatorSet: () => 'validator-set',
  /** A meter's period key by its keyId (lowercase hex), docs/protocol.md §11.6. */
  periodKey: (meterId: string, keyIdHex: string) => `period-key/${meterId}/${keyIdHex}`,
} as const;

/** The subjects of a transaction, in a fixed order, none repeated. */
export function txSubjects(b: TxBody): string[] {
  const s = txSubject;
  switch (b.type) {
    case TxType.Reading: return [];
    case TxType.MeterRegister: return b.owner !== undefined ? [s.meter(b.meterId), s.account(b.owner)] : [s.meter(b.meterId)];
    case TxType.MeterRotate:
    case TxType.MeterRevoke: return [s.meter(b.meterId)];
    case PERIOD_KEY_TX_TYPE: return [s.meter(b.meterId), s.periodKey(b.meterId, toHex(b.keyId))];
    case LedgerTxType.AccountOpen:
    case LedgerTxType.AccountRotate: return [s.account(b.account)];
    case LedgerTxType.MeterAssign: return [s.meter(b.meterId), s.account(b.account)];
    case LedgerTxType.Deposit:
    case LedgerTxType.Withdrawal: return [s.account(b.account)];
    case LedgerTxType.TariffPublish: return [s.tariff(b.tariff.tariff)];
    case LedgerTxType.Agreement: return [s.agreement(b.meterId)];
    case LedgerTxType.Bill: return [s.bill(b.bill.meterId, b.bill.period.label)];
    case LedgerTxType.Mandate:
    case LedgerTxType.MandateRevoke: return [s.mandate(b.account, b.payee)];
    case LedgerTxType.Payment:
    case LedgerTxType.Dispute:
    case LedgerTxType.CreditNote:
    case LedgerTxType.DisputeReject: return [s.bill(b.meterId, b.period)];
    case VALSET_TX_TYPE: return [s.validatorSet()];
  }
}

/** The meter a transaction is about, if any (readings, meter transactions, most ledger ones, a bill's meter). */
export function txMeterId(b: TxBody): string | undefined {
  return 'meterId' in b ? b.meterId : b.type === LedgerTxType.Bill ? b.bill.meterId : undefined;
}

/** Names of the registered transaction types (docs/protocol.md §3.2, docs/billing.md §13), for people. */
export const TX_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'reading', 2: 'meter registration', 3: 'meter key rotation', 4: 'meter revocation', 5: 'period key',
  6: 'account opening', 7: 'account key rotation', 8: 'meter assignment', 9: 'deposit', 10: 'withdrawal',
  11: 'tariff publication', 12: 'agreement', 13: 'bill', 14: 'mandate', 15: 'mandate revocation',
  16: 'payment', 17: 'dispute', 18: 'credit note', 19: 'dispute rejection',
  20: 'validator-set change',
};
