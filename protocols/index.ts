/**
 * meterledger protocols: the pure, browser-safe definitions every other part shares.
 * docs/protocol.md is the normative text; this code and test/vectors follow it.
 */
export * from './bytes.js';
export * from './bounded-map.js';
export * from './time.js';
export * from './cbor.js';
export * from './errors.js';
export * from './codes.js';
export * from './hash.js';
export * from './keys.js';
export * from './cose.js';
export * from './merkle.js';
export * from './tx.js';
export * from './genesis.js';
export * from './block.js';
export * from './receipt.js';
export * from './mqtt.js';
export * from './compact-receipt.js';
export * from './intake.js';
export * from './confidential/index.js';
export * from './p2p.js';
export * from './billing/index.js';
export * from './bills-topic.js';
export * from './state.js';
export * from './session.js';
export * from './subjects.js';
export * from './validator-set.js';
export * from './valset-proof.js';
export * from './peer-messages.js';
