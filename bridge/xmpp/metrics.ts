/**
 * What the XMPP bridge reports. The gateway wires these to prom-client; the bridge never
 * imports it. Refusal reasons are stable labels, shared with the log line.
 */

export type XmppState = 'online' | 'offline' | 'connecting';

/** Why a reading stanza was answered with an XMPP error instead of reaching the intake. */
export type StanzaRefusal = 'bad_attribute' | 'bad_base64' | 'too_large';

export interface XmppMetrics {
  /** The connection to the XMPP server changed state. */
  state(s: XmppState): void;
  /** A reading stanza arrived (ours: `<reading xmlns='urn:meterledger:reading:1'>`). */
  stanzaReceived(): void;
  /** A reading stanza was refused before the intake and answered with an error stanza. */
  stanzaRefused(reason: StanzaRefusal): void;
  /** A `<receipt/>` of a committed reading was sent to its meter. */
  receiptSent(): void;
}

const noop = (): void => undefined;

export const noopXmppMetrics: XmppMetrics = { state: noop, stanzaReceived: noop, stanzaRefused: noop, receiptSent: noop };
