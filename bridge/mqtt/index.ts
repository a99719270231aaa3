/** The MQTT side of the bridge: an embedded aedes broker wired to the intake port. */
export { MqttBroker, type MqttBrokerOptions, type MqttAccount, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_TOKEN_MAX_AGE_MS, maxPacketBytes } from './broker.js';
export { hashPassword } from './password.js';
export { type BridgeMetrics, type ConnectRefusal, noopBridgeMetrics } from './metrics.js';
export type { BridgeLogger } from './logger.js';
