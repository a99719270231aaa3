/** The XMPP side of the bridge: a client of the site's XMPP server wired to the intake port. */
export { XmppBridge, type XmppBridgeOptions, XmppBridgeError, type XmppBridgeErrorCode } from './bridge.js';
export { type XmppMetrics, type XmppState, type StanzaRefusal, type XmppRefusalCode, XMPP_REFUSAL_CODES, noopXmppMetrics } from './metrics.js';
export type { XmppLogger } from './logger.js';
export { type XmppTlsOptions, type XmppConnectionOptions, type XmppClientOptions, type XmppClient, createXmppClient } from './client.js';
export { NS_READING, DEFAULT_MAX_PAYLOAD_BYTES, readingMessage } from './stanzas.js';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
