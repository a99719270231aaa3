/** Defaults of the broker's options, in a module of their own so gateway/config.ts can show them without loading aedes. */

/** How far a meter CONNECT token's time may be from the gateway clock, ms. */
export const DEFAULT_TOKEN_MAX_AGE_MS = 300_000;
/** Largest PUBLISH payload accepted, bytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4096;
/** Sockets each listener holds at most. */
export const DEFAULT_MAX_CONNECTIONS_PER_LISTENER = 20_000;
/** Sessions one meter may hold, connected or stored. */
export const DEFAULT_MAX_SESSIONS_PER_METER = 4;
/** Messages queued per session at most. */
export const DEFAULT_MAX_QUEUED_MESSAGES = 1000;
/** A stored session ends this long after its last connection closed, ms. */
export const DEFAULT_SESSION_EXPIRY_MS = 7 * 86_400_000;
/** Time a new connection has to send CONNECT (and before it finish TLS or the WebSocket upgrade), ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
