/**
 * The bill engine and its formats (docs/billing.md): pure and browser-safe, run alike by
 * validators, `meterledger bill verify` and the owner's portal.
 */
export * from './rounding.js';
export * from './localtime.js';
export * from './tariff.js';
export * from './terms.js';
export * from './period.js';
export * from './schedule.js';
export * from './interpolate.js';
export * from './bill.js';
export * from './engine.js';
export * from './txs.js';
export * from './ledger.js';
export * from './compare.js';
export * from './bundle.js';
export * from './disclosure.js';
