/**
 * Confidential readings (docs/protocol.md §11): sealed readings (COSE_Encrypt0, A256GCM),
 * the key schedule, period keys wrapped with HPKE (RFC 9180), disclosures. Pure and
 * browser-safe; randomness only through an injected RandomSource.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import type { RandomSource } from './schedule.js';

export * from './hpke.js';
export * from './schedule.js';
export * from './recipients.js';
export * from './signed.js';
export * from './sealed-reading.js';
export * from './period-key.js';
export * from './disclosure.js';

/** The platform's CSPRNG (crypto.getRandomValues, in Node 20 and browsers): what callers inject. */
export const cryptoRandom: RandomSource = (length) => randomBytes(length);
