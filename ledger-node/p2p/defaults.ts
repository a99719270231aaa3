/** Defaults of the NATS carrier's options, in a module of their own so gateway/config.ts can show them without loading nats.js. */

/** Dialling backoff, ms: the first wait (and nats.js's wait per server), doubling up to the longest. */
export const DEFAULT_RECONNECT = { minMs: 500, maxMs: 30_000 } as const;
