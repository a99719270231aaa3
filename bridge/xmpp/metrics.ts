/**
 * What the XMPP bridge reports. The gateway wires these to prom-client; the bridge never
 * imports it. A refusal's label is its reason code, the code of the reply and the log line.
 */
import { ReasonCode } from '../../protocols/errors.js';

export type XmppState = 'online' | 'offline' | 'connecting';

/** What was wrong with a reading stanza answered with an XMPP error (the log line's detail). */
export type StanzaRefusal = 'bad_attribute' | 'bad_base64' | 'too_large';

/** The codes the bridge refuses a reading with before the intake: the metric's label values. */
export const XMPP_REFUSAL_CODES = [ReasonCode.MALFORMED, ReasonCode.TOO_LARGE, ReasonCode.BUSY] as const;
export type XmppRefusalCode = (typeof XMPP_REFUSAL_CODES)[number];

export interface XmppMetrics {
  /** The connection to the XMPP server changed state. */
  state(s: XmppState): void;
  /** A reading stanza arrived (ours: `<reading xmlns='urn:meterledger:reading:1'>`). */
  stanzaReceived(): void;
  /** A reading stanza was refused before the intake (an error stanza, or BUSY with too many under way). */
  stanzaRefused(code: XmppRefusalCode): void;
  /** A `<receipt/>` of a committed reading was sent to its meter. */
  receiptSent(): void;
}

const noop = (): void => undefined;

export const noopXmppMetrics: XmppMetrics = { state: noop, stanzaReceived: noop, stanzaRefused: noop, receiptSent: noop };
