import type { ReasonCode } from '../../protocols/errors.js';

/**
 * What the MQTT bridge reports. The gateway wires these to prom-client; the bridge never
 * imports it. Reasons are stable labels, shared with the log line.
 */

/** Why a CONNECT was refused; one label per CONNACK return code we send (MQTT 3.1.1 §3.2.2.3). */
export type ConnectRefusal =
  | 'unacceptable_protocol'
  | 'identifier_rejected'
  | 'bad_credentials'
  | 'not_authorized'
  | 'server_unavailable';

export interface BridgeMetrics {
  /** Current number of connected, authenticated clients. */
  clientsConnected(n: number): void;
  connectRefused(reason: ConnectRefusal): void;
  /** A PUBLISH arrived on a readings topic. */
  publishReceived(): void;
  /** A message on a meter's receipts topic was handed to that meter's connection. */
  receiptDelivered(): void;
  /**
   * A reading the bridge refused itself, before the intake (too large, another meter's
   * topic, a session already told E_GATEWAY_BUSY): counted with the intake's refusals.
   */
  readingRefused(code: ReasonCode): void;
  /** A payment on a payments topic refused (by the bridge or the intake), by reason code. */
  paymentRefused(code: ReasonCode): void;
}

const noop = (): void => undefined;

export const noopBridgeMetrics: BridgeMetrics = {
  clientsConnected: noop,
  connectRefused: noop,
  publishReceived: noop,
  receiptDelivered: noop,
  readingRefused: noop,
  paymentRefused: noop,
};
