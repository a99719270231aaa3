import type { Code } from './codes.js';

/**
 * Reason codes shared by the meter, the log line and the metric label.
 * One table: every refusal anywhere in meterledger carries one of these codes.
 */

export const ReasonCode = {
  /** The bytes are not a COSE_Sign1 (tag 18) in deterministic CBOR. */
  MALFORMED: 'E_READING_MALFORMED',
  /** The payload decodes but breaks the schema (missing or ill-typed field). */
  SCHEMA: 'E_READING_SCHEMA',
  /** The message is larger than the configured limit. */
  TOO_LARGE: 'E_READING_TOO_LARGE',
  /** The signature algorithm is not Ed25519 (-8) or ES256 (-7), or differs from the meter's key. */
  BAD_ALG: 'E_READING_BAD_ALG',
  /** The signature does not verify with the meter's current registered key. */
  BAD_SIGNATURE: 'E_READING_BAD_SIGNATURE',
  /** No meter with this id is registered. */
  UNKNOWN_METER: 'E_READING_UNKNOWN_METER',
  /** The meter was revoked by an operator. */
  METER_REVOKED: 'E_READING_METER_REVOKED',
  /** The sequence number is not above the last accepted one for this meter. */
  SEQ_REPLAY: 'E_READING_SEQ_REPLAY',
  /** The reading's time is outside the accepted window around the gateway's clock. */
  TIME_SKEW: 'E_READING_TIME_SKEW',
  /** The reading came in on a topic or session of another meter. */
  WRONG_METER: 'E_READING_WRONG_METER',
  /** The gateway cannot accept now (backlog full, store unavailable); retry later. */
  BUSY: 'E_GATEWAY_BUSY',
  /** The meter sends faster than its allowed rate. */
  RATE_LIMITED: 'E_READING_RATE_LIMITED',
  /** An operator transaction is not signed by an operator key listed in genesis. */
  NOT_OPERATOR: 'E_TX_NOT_OPERATOR',
  /** An operator transaction conflicts with state (meter exists, wrong key epoch...). */
  TX_CONFLICT: 'E_TX_CONFLICT',
  // Confidential readings (docs/protocol.md §11, protocols/confidential/). The first five
  // need no key: every validator checks them. The others need one (a disclosed content
  // key, a period key or a recipient's secret key).
  /** A sealed reading, period key, recipient key or disclosure breaks its format (§11). */
  CONF_MALFORMED: 'E_CONF_MALFORMED',
  /** A period key is not wrapped to exactly the recipients registered for the meter. */
  CONF_WRONG_RECIPIENTS: 'E_CONF_WRONG_RECIPIENTS',
  /** A sealed reading names a period key (kid context) its meter never published. */
  CONF_UNKNOWN_KEY: 'E_CONF_UNKNOWN_KEY',
  /** A sealed reading reuses the content key and IV of an earlier one for other bytes. */
  CONF_NONCE_REUSED: 'E_CONF_NONCE_REUSED',
  /** A clear reading of a confidential meter, or a sealed reading of a clear one. */
  CONF_MODE_MISMATCH: 'E_CONF_MODE_MISMATCH',
  /** AES-GCM or HPKE authentication failed: tampered ciphertext, tag or AAD, or a wrong key. */
  CONF_AUTH_FAILED: 'E_CONF_AUTH_FAILED',
  /** A disclosed content key is not the key the reading commits to (its kid). */
  CONF_BAD_DISCLOSURE_KEY: 'E_CONF_BAD_DISCLOSURE_KEY',
  /** An opened key is not the one its id or commitment names: the meter wrapped or used another key. */
  CONF_KEY_MISMATCH: 'E_CONF_KEY_MISMATCH',
  /** The key offered is not among a period key's recipients. */
  CONF_NOT_RECIPIENT: 'E_CONF_NOT_RECIPIENT',
  // The bill engine (docs/billing.md §9, protocols/billing/): tariffs, agreements and bills.
  /** A tariff (JSON or decoded CBOR) breaks the schema; `field` names the field. */
  TARIFF_INVALID: 'E_TARIFF_INVALID',
  /** Tariff bytes are not deterministic CBOR, or not the canonical encoding of what they hold. */
  TARIFF_MALFORMED: 'E_TARIFF_MALFORMED',
  /** A tariff's currency is not the chain's currency. */
  TARIFF_CURRENCY: 'E_TARIFF_CURRENCY',
  /** Two versions of one tariff take effect at the same instant. */
  TARIFF_CONFLICT: 'E_TARIFF_CONFLICT',
  /** A period label or cycle rule is not valid. */
  BILL_PERIOD_INVALID: 'E_BILL_PERIOD_INVALID',
  /** A reading given to the engine is ill-formed, of another meter, or repeats a seq. */
  BILL_READINGS_INVALID: 'E_BILL_READINGS_INVALID',
  /** Agreements are ill-formed or two take effect at the same instant. */
  BILL_AGREEMENTS_INVALID: 'E_BILL_AGREEMENTS_INVALID',
  /** No agreement puts a tariff in force at any instant of the period. */
  BILL_NO_AGREEMENT: 'E_BILL_NO_AGREEMENT',
  /** An agreement names a tariff that has no version in force at an instant it covers. */
  BILL_NO_TARIFF: 'E_BILL_NO_TARIFF',
  /** No committed reading at or after the period's end: the bill cannot be final yet. */
  BILL_NOT_READY: 'E_BILL_NOT_READY',
  /** An energy, amount or total leaves the range -(2^53-1) .. 2^53-1. */
  BILL_OVERFLOW: 'E_BILL_OVERFLOW',
  /** A bill (JSON or CBOR) breaks the schema or is not in canonical form. */
  BILL_INVALID: 'E_BILL_INVALID',
  /** A submitted bill differs from the recomputed one; `field` names the first difference. */
  BILL_MISMATCH: 'E_BILL_MISMATCH',
  // The ledger's accounts, money and billing transactions (docs/billing.md §13-20).
  /** The chain's genesis has no currency: transactions of types 6-19 are refused. */
  LEDGER_DISABLED: 'E_LEDGER_DISABLED',
  /** An operator signed a transaction its genesis roles do not allow (registrar, biller, custodian). */
  TX_ROLE: 'E_TX_ROLE',
  /** An owner's transaction is not signed by the key of the account it acts for. */
  TX_NOT_OWNER: 'E_TX_NOT_OWNER',
  /** A transaction's time is not after the time of the last one that set the same record (a replay). */
  TX_STALE: 'E_TX_STALE',
  /** An account with this id is already open. */
  ACCOUNT_EXISTS: 'E_ACCOUNT_EXISTS',
  /** No account with this id is open. */
  ACCOUNT_UNKNOWN: 'E_ACCOUNT_UNKNOWN',
  /** An account key rotation does not carry the current key epoch + 1. */
  ACCOUNT_KEY_EPOCH: 'E_ACCOUNT_KEY_EPOCH',
  /** A withdrawal exceeds the account's balance. */
  ACCOUNT_INSUFFICIENT_FUNDS: 'E_ACCOUNT_INSUFFICIENT_FUNDS',
  /** A credit would take a balance above 2^63-1 minor units. */
  ACCOUNT_BALANCE_LIMIT: 'E_ACCOUNT_BALANCE_LIMIT',
  /** A deposit or withdrawal repeats a custodian's external reference: it was applied once already. */
  TRANSFER_DUPLICATE: 'E_TRANSFER_DUPLICATE',
  /** A tariff name belongs to another biller. */
  TARIFF_NOT_OWNER: 'E_TARIFF_NOT_OWNER',
  /** This tariff version (same content id) is already published. */
  TARIFF_DUPLICATE: 'E_TARIFF_DUPLICATE',
  /** A tariff version would take effect before the block's time. */
  TARIFF_RETROACTIVE: 'E_TARIFF_RETROACTIVE',
  /** No tariff of this name is published. */
  TARIFF_UNKNOWN: 'E_TARIFF_UNKNOWN',
  /** A tariff has as many versions as allowed (256). */
  TARIFF_LIMIT: 'E_TARIFF_LIMIT',
  /** An agreement would take effect inside a period of the meter that is already billed. */
  AGREEMENT_BILLED: 'E_AGREEMENT_BILLED',
  /** An agreement replaces or ends one set by another biller. */
  AGREEMENT_NOT_BILLER: 'E_AGREEMENT_NOT_BILLER',
  /** A meter has as many agreements as allowed (256). */
  AGREEMENT_LIMIT: 'E_AGREEMENT_LIMIT',
  /** The meter already has a bill for this period. */
  BILL_EXISTS: 'E_BILL_EXISTS',
  /** The period starts before the end of a period of the meter already billed. */
  BILL_OVERLAP: 'E_BILL_OVERLAP',
  /** The period has not ended by the block's time. */
  BILL_PERIOD_OPEN: 'E_BILL_PERIOD_OPEN',
  /** The height a bill names as computed at is not below the block's height. */
  BILL_HEIGHT: 'E_BILL_HEIGHT',
  /** The signer did not publish a tariff the bill uses, or did not issue the bill it answers. */
  BILL_NOT_BILLER: 'E_BILL_NOT_BILLER',
  /** The meter's owner is not an open account. */
  BILL_NO_ACCOUNT: 'E_BILL_NO_ACCOUNT',
  /** A bill of a confidential meter carries no disclosures (docs/billing.md §17.2). */
  BILL_CONFIDENTIAL: 'E_BILL_CONFIDENTIAL',
  /** A bill's disclosures are not exactly the readings it needs, or a clear meter's bill carries some (§17.2). */
  BILL_DISCLOSURES: 'E_BILL_DISCLOSURES',
  /** A bill states a disclosed reading's value other than the one its content key opens (§17.2). */
  BILL_DISCLOSED_VALUE: 'E_BILL_DISCLOSED_VALUE',
  /** No bill of this meter for this period. */
  BILL_UNKNOWN: 'E_BILL_UNKNOWN',
  /** The bill is paid already. */
  BILL_ALREADY_PAID: 'E_BILL_ALREADY_PAID',
  /** The bill's total is zero or negative: nothing is due, no payment is taken. */
  BILL_NOTHING_DUE: 'E_BILL_NOTHING_DUE',
  /** No mandate of this account for this payee. */
  MANDATE_UNKNOWN: 'E_MANDATE_UNKNOWN',
  /** A mandate's expiry is not after the block's time. */
  MANDATE_EXPIRED: 'E_MANDATE_EXPIRED',
  /** A mandate lists a meter its account does not own. */
  MANDATE_METER_NOT_OWNED: 'E_MANDATE_METER_NOT_OWNED',
  /** A meter or autopay payment without a mandate of the bill's account for the bill's payee. */
  PAYMENT_NO_MANDATE: 'E_PAYMENT_NO_MANDATE',
  /** The mandate expired before the block's time. */
  PAYMENT_MANDATE_EXPIRED: 'E_PAYMENT_MANDATE_EXPIRED',
  /** The mandate does not list the paying meter, or the meter no longer belongs to the bill's account. */
  PAYMENT_METER_NOT_ALLOWED: 'E_PAYMENT_METER_NOT_ALLOWED',
  /** The amount is above the mandate's cap per bill (`field` capPerBill) or what is left of its month (capPerMonth). */
  PAYMENT_CAP_EXCEEDED: 'E_PAYMENT_CAP_EXCEEDED',
  /** The paying account's balance is below the amount. */
  PAYMENT_INSUFFICIENT_FUNDS: 'E_PAYMENT_INSUFFICIENT_FUNDS',
  /** The payment's amount is not the amount due. */
  PAYMENT_AMOUNT: 'E_PAYMENT_AMOUNT',
  /** The bill has an open dispute already. */
  DISPUTE_EXISTS: 'E_DISPUTE_EXISTS',
  /** The bill has no open dispute to reject. */
  DISPUTE_UNKNOWN: 'E_DISPUTE_UNKNOWN',
  /** Credit notes would exceed the bill's absolute total. */
  CREDIT_EXCEEDS_BILL: 'E_CREDIT_EXCEEDS_BILL',
  /** The payee's balance is below the credit note's amount. */
  CREDIT_INSUFFICIENT_FUNDS: 'E_CREDIT_INSUFFICIENT_FUNDS',
  /** A validator-set change that cannot apply to the set (unknown or existing id, key in use, power out of range). */
  VALSET_INVALID: 'E_VALSET_INVALID',
  /** A validator-set change without approvals of more than 2/3 of the current power, or with a bad one. */
  VALSET_APPROVAL: 'E_VALSET_APPROVAL',
  /** A validator-set change whose number is not the next of the chain's sequence of changes. */
  VALSET_SEQ: 'E_VALSET_SEQ',
  /** A full-receipt request (docs/protocol.md §8.3.2) that is not {1: seq} or {5: txHash}. */
  RECEIPT_REQUEST_MALFORMED: 'E_RECEIPT_REQUEST_MALFORMED',
  /** A full-receipt request for a reading or transaction that is not committed (yet). */
  RECEIPT_NOT_FOUND: 'E_RECEIPT_NOT_FOUND',
  /** A full-receipt request for what is not the asking meter's own reading. */
  RECEIPT_NOT_AUTHORIZED: 'E_RECEIPT_NOT_AUTHORIZED',
} as const;

export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

export const ALL_REASON_CODES: readonly ReasonCode[] = Object.values(ReasonCode);

/**
 * Codes of the offline proofs and the audit: a bill bundle that does not prove its bill
 * (docs/billing.md §22), a store whose money does not add up (docs/operations.md, `meterledger
 * verify`). Not refusals of a transaction (those are ReasonCode): what a checker reports.
 */
export const ProofCode = {
  /** A bundle is not the JSON of docs/billing.md §22.1 (a field missing, of another type, a receipt not CBOR). */
  BUNDLE_MALFORMED: 'E_BUNDLE_MALFORMED',
  /** A bundle names another genesis (hash or chain id) than the one trusted. */
  BUNDLE_GENESIS: 'E_BUNDLE_GENESIS',
  /** A receipt of the bundle does not verify against the genesis (E_RECEIPT_INVALID's reason follows). */
  BUNDLE_RECEIPT: 'E_BUNDLE_RECEIPT',
  /** A receipt holds a transaction the bundle may not use there: another type, meter or tariff, or committed too late. */
  BUNDLE_WRONG_TX: 'E_BUNDLE_WRONG_TX',
  /** A reading the bill names has no receipt in the bundle, or one that the bill does not name is there. */
  BUNDLE_INCOMPLETE: 'E_BUNDLE_INCOMPLETE',
  /** The audit: a stored bill is not what the engine computes from the chain's readings, agreements and tariffs. */
  AUDIT_BILL: 'E_AUDIT_BILL',
  /** The audit: a stored balance is not what the chain's transactions make it. */
  AUDIT_BALANCE: 'E_AUDIT_BALANCE',
  /** The audit: the sum of balances is not deposits minus withdrawals. */
  AUDIT_CONSERVATION: 'E_AUDIT_CONSERVATION',
  /** The audit: a bill was paid more than once, or a stored payment is not what the chain's payment made. */
  AUDIT_PAYMENT: 'E_AUDIT_PAYMENT',
  /** The audit: payments under a mandate exceed its cap per bill or per month. */
  AUDIT_CAP: 'E_AUDIT_CAP',
} as const;
export type ProofCode = (typeof ProofCode)[keyof typeof ProofCode];

/**
 * The shape of every error of the code base: a stable `code` (`E_...`) and a message that
 * does not repeat it; each subclass names itself and narrows the code to its part of the catalogue
 * (protocols/codes.ts).
 */
export class CodedError<C extends Code = Code> extends Error {
  override readonly name: string = 'CodedError';
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A refusal with a stable code. `field` names the offending field when there is one. */
export class RejectionError extends CodedError<ReasonCode> {
  override readonly name = 'RejectionError';
  constructor(
    code: ReasonCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Errors of the protocol layer that are not refusals of a device's input. */
export class ProtocolError extends CodedError {
  override readonly name = 'ProtocolError';
}
