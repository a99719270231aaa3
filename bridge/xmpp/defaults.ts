/** Defaults of the bridge's options, in a module of their own so gateway/config.ts can show them without loading xmpp.js. */

/** Default limit of one reading, in base64-decoded bytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4096;

export { DEFAULT_BACKOFF } from './backoff.js';
