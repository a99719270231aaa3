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
} as const;

export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

export const ALL_REASON_CODES: readonly ReasonCode[] = Object.values(ReasonCode);

/** A refusal with a stable code. `field` names the offending field when there is one. */
export class RejectionError extends Error {
  override readonly name = 'RejectionError';
  constructor(
    readonly code: ReasonCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/** Errors of the protocol layer that are not refusals of a device's input. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
