/** The MQTT side of the bridge: an embedded aedes broker wired to the intake port. */
export {
  MqttBroker, type MqttBrokerOptions, type MqttAccount, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS_PER_LISTENER, DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_MAX_SESSIONS_PER_METER, DEFAULT_SESSION_EXPIRY_MS, DEFAULT_TOKEN_MAX_AGE_MS, maxPacketBytes,
} from './broker.js';
export type { ConnectionInfo } from './listeners.js';
export { hashPassword } from './password.js';
export { type BridgeMetrics, type ConnectRefusal, noopBridgeMetrics } from './metrics.js';
export type { BridgeLogger } from './logger.js';
