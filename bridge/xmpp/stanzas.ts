/**
 * The stanzas of meterledger over XMPP (docs/xmpp.md is the normative text): what a meter
 * sends, how we classify an incoming message, and the replies we build. Pure of I/O.
 *
 *   meter -> gateway  <message to='gw@site' id='r-17'>
 *                       <reading xmlns='urn:meterledger:reading:1' meter='meter-0001'>BASE64</reading>
 *                     </message>
 *   gateway -> meter  <ack xmlns=NS id='r-17' status='accepted' seq='17' tx='hex'/>
 *                     <ack xmlns=NS id='r-17' status='rejected' code='E_...' tx='hex' [seq='17']>text</ack>
 *                     <receipt xmlns=NS id='r-17' seq='17' height='5' tx='hex'>BASE64</receipt>
 *                     or a message of type 'error' (RFC 6120 §8.3) for a malformed envelope.
 */
import { xml, type Element } from '@xmpp/xml';
import { jid as parseJid } from '@xmpp/jid';
import xid from '@xmpp/id';
import { toHex } from '../../protocols/bytes.js';
import { ReasonCode } from '../../protocols/errors.js';
import type { CommittedReading, SubmitResult } from '../../protocols/intake.js';
import { encodeReceipt } from '../../protocols/receipt.js';
import { METER_ID_PATTERN } from '../../protocols/tx.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './defaults.js';
import { base64Length, decodeBase64Strict, encodeBase64 } from './base64.js';
import type { StanzaRefusal, XmppRefusalCode } from './metrics.js';

export const NS_READING = 'urn:meterledger:reading:1';
/** RFC 6120 §8.3.3: the namespace of stanza error conditions. */
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export { DEFAULT_MAX_PAYLOAD_BYTES } from './defaults.js';
/** Longest message id we echo back (it is the meter's correlation key). */
export const MAX_MESSAGE_ID_LENGTH = 128;
/** Rejection texts are cut to this many characters. */
const MAX_TEXT = 256;

export type IncomingMessage =
  /** Not ours, or not to be answered: leave it alone. */
  | { readonly kind: 'ignore'; readonly why: string }
  /** A well-formed reading to hand to the intake. */
  | {
    readonly kind: 'reading';
    /** Full JID of the sender: replies go there. */
    readonly from: string;
    /** Bare JID of the sender, normalized: what a meter registration binds. */
    readonly bareJid: string;
    readonly id: string;
    readonly meterId: string;
    readonly bytes: Uint8Array;
  }
  /** Ours but malformed: answer with this error stanza. */
  | { readonly kind: 'refuse'; readonly reason: StanzaRefusal; readonly code: XmppRefusalCode; readonly reply: Element };

const ignore = (why: string): IncomingMessage => ({ kind: 'ignore', why });

/** Decide what to do with one incoming stanza. */
export function classifyStanza(stanza: Element, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): IncomingMessage {
  if (!stanza.is('message')) return ignore(`${stanza.name} stanza`);
  const type = stanza.attrs.type ?? 'normal';
  // RFC 6120 §8.3.1: never answer an error with an error (no loops).
  if (type === 'error') return ignore('message of type error');
  if (type !== 'normal' && type !== 'chat') return ignore(`message of type ${type}`);
  const el = stanza.getChild('reading', NS_READING);
  if (!el) return ignore('no reading element');
  const from = stanza.attrs.from;
  if (!from) return ignore('no from address');
  let full: string;
  let bareJid: string;
  try {
    const j = parseJid(from);
    full = j.toString();
    bareJid = j.bare().toString();
  } catch {
    return ignore('from is not a JID');
  }
  const refuse = (reason: StanzaRefusal, condition: string, code: XmppRefusalCode, text: string): IncomingMessage =>
    ({ kind: 'refuse', reason, code, reply: errorReply(stanza, condition, code, text) });
  const id = stanza.attrs.id;
  if (!id || id.length > MAX_MESSAGE_ID_LENGTH) {
    return refuse('bad_attribute', 'bad-request', ReasonCode.MALFORMED, `message id is required (1..${MAX_MESSAGE_ID_LENGTH} characters) to correlate replies`);
  }
  const meterId = el.attrs.meter;
  if (!meterId || !METER_ID_PATTERN.test(meterId)) {
    return refuse('bad_attribute', 'bad-request', ReasonCode.MALFORMED, 'reading needs a meter attribute matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
  }
  const text = el.getText().trim();
  // Size first, so a huge text costs no decoding.
  if (text.length > base64Length(maxPayloadBytes)) {
    return refuse('too_large', 'policy-violation', ReasonCode.TOO_LARGE, `reading exceeds ${maxPayloadBytes} bytes`);
  }
  const bytes = decodeBase64Strict(text);
  if (bytes === undefined || bytes.length === 0) {
    return refuse('bad_base64', 'bad-request', ReasonCode.MALFORMED, 'reading text must be non-empty base64 (RFC 4648 §4, padded, no line breaks)');
  }
  if (bytes.length > maxPayloadBytes) {
    return refuse('too_large', 'policy-violation', ReasonCode.TOO_LARGE, `reading of ${bytes.length} bytes exceeds ${maxPayloadBytes}`);
  }
  return { kind: 'reading', from: full, bareJid, id, meterId, bytes };
}

/**
 * RFC 6120 §8.3: an error reply to `stanza`, same id, to its sender, with a defined
 * condition, a text and our application condition carrying the reason code.
 */
export function errorReply(stanza: Element, condition: string, code: ReasonCode, text: string): Element {
  return xml('message', { type: 'error', to: stanza.attrs.from, id: stanza.attrs.id },
    xml('error', { type: 'modify' },
      xml(condition, { xmlns: NS_STANZAS }),
      xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, text),
      xml('refused', { xmlns: NS_READING, code })));
}

const cut = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** The answer to a reading once the intake has decided. */
export function ackMessage(to: string, inReplyTo: string, r: SubmitResult): Element {
  const attrs = r.status === 'accepted'
    ? { xmlns: NS_READING, id: inReplyTo, status: 'accepted', seq: r.seq.toString(), tx: toHex(r.txHash) }
    : { xmlns: NS_READING, id: inReplyTo, status: 'rejected', code: r.code, tx: toHex(r.txHash), ...(r.seq !== undefined ? { seq: r.seq.toString() } : {}) };
  return xml('message', { to, id: xid() }, xml('ack', attrs, r.status === 'rejected' ? cut(r.message) : null));
}

/** The receipt of a committed reading: encodeReceipt bytes (protocols/receipt.ts), base64. */
export function receiptMessage(to: string, inReplyTo: string, c: CommittedReading): Element {
  return xml('message', { to, id: xid() },
    xml('receipt', { xmlns: NS_READING, id: inReplyTo, seq: c.seq.toString(), height: String(c.height), tx: toHex(c.txHash) },
      encodeBase64(encodeReceipt(c.receipt))));
}

/** A meter's reading message (for meters, the simulator and tests). */
export function readingMessage(to: string, id: string, meterId: string, bytes: Uint8Array): Element {
  return xml('message', { to, id }, xml('reading', { xmlns: NS_READING, meter: meterId }, encodeBase64(bytes)));
}
