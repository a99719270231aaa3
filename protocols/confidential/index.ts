/**
 * Confidential readings (docs/protocol.md §11): sealed readings (COSE_Encrypt0, A256GCM),
 * the key schedule, period keys wrapped with HPKE (RFC 9180), disclosures. Pure and
 * browser-safe; randomness only through an injected RandomSource.
 */
export * from './hpke.js';
