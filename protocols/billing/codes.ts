/**
 * Reason codes of the bill engine (docs/billing.md §10). A validator refuses a tariff,
 * agreement or bill with one of these; the CLI, the log line and the metric label carry
 * the same code. The message never repeats the code; `field` names what is wrong.
 */

export const BillingCode = {
  /** A tariff (JSON or decoded CBOR) breaks the schema; `field` names the field. */
  TARIFF_INVALID: 'E_TARIFF_INVALID',
  /** Tariff bytes are not deterministic CBOR, or not the canonical encoding of what they hold. */
  TARIFF_MALFORMED: 'E_TARIFF_MALFORMED',
  /** A tariff's currency is not the chain's currency. */
  TARIFF_CURRENCY: 'E_TARIFF_CURRENCY',
  /** Two versions of one tariff take effect at the same instant. */
  TARIFF_CONFLICT: 'E_TARIFF_CONFLICT',
  /** A period label or cycle rule is not valid. */
  PERIOD_INVALID: 'E_BILL_PERIOD_INVALID',
  /** A reading given to the engine is ill-formed, of another meter, or repeats a seq. */
  READINGS_INVALID: 'E_BILL_READINGS_INVALID',
  /** Agreements are ill-formed or two take effect at the same instant. */
  AGREEMENTS_INVALID: 'E_BILL_AGREEMENTS_INVALID',
  /** No agreement puts a tariff in force at any instant of the period. */
  NO_AGREEMENT: 'E_BILL_NO_AGREEMENT',
  /** An agreement names a tariff that has no version in force at an instant it covers. */
  NO_TARIFF: 'E_BILL_NO_TARIFF',
  /** No committed reading at or after the period's end: the bill cannot be final yet. */
  NOT_READY: 'E_BILL_NOT_READY',
  /** An energy, amount or total leaves the range -(2^53-1) .. 2^53-1. */
  OVERFLOW: 'E_BILL_OVERFLOW',
  /** A bill (JSON or CBOR) breaks the schema or is not in canonical form. */
  BILL_INVALID: 'E_BILL_INVALID',
  /** A submitted bill differs from the recomputed one; `field` names the first difference. */
  MISMATCH: 'E_BILL_MISMATCH',
} as const;

export type BillingCode = (typeof BillingCode)[keyof typeof BillingCode];

export const ALL_BILLING_CODES: readonly BillingCode[] = Object.values(BillingCode);

/** A refusal of the bill engine: a stable code, a message, and the field at fault if any. */
export class BillingError extends Error {
  override readonly name = 'BillingError';
  constructor(
    readonly code: BillingCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
