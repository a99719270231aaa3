/**
 * Peer envelopes: the frame every gateway-to-gateway message travels in, whatever carries
 * it (docs/protocol.md §12). A fixed binary header that a receiver reads with a handful
 * of byte reads, the sender's Ed25519 signature over exactly that header, then the
 * payload, which the header binds by length and SHA-256. So a receiver checks size,
 * framing, chain, sender, addressee, time and signature before it looks at the payload
 * at all, and decodes nothing a stranger sent.
 *
 *   envelope = header ‖ signature (64) ‖ payload
 *   header   = domain "meterledger/p2p/v2" (18) ‖ kind (1) ‖ timeMs (8) ‖ payloadLength (4)
 *              ‖ SHA-256(payload) (32) ‖ len ‖ chainId ‖ len ‖ from ‖ len ‖ to
 *
 * Integers are unsigned big-endian; ids are ASCII with a one-byte length. Pure: the
 * signature and the hashing are the caller's (ledger-node uses OpenSSL for both).
 */
import { concatBytes, equalBytes, utf8 } from './bytes.js';
import { ProtocolError } from './errors.js';
import { CHAIN_ID_PATTERN } from './genesis.js';
import { sha256 } from './hash.js';
import { METER_ID_PATTERN } from './tx.js';

export const PEER_ENVELOPE_DOMAIN = 'meterledger/p2p/v2';
const DOMAIN = utf8(PEER_ENVELOPE_DOMAIN);

/** Largest envelope sent or accepted, header and signature included (NATS needs `max_payload: 8MB`). */
export const MAX_PEER_ENVELOPE_BYTES = 8 * 1024 * 1024;

/** Kinds and their byte on the wire. 'status' is the peer layer's heartbeat. */
export const PEER_KINDS = { consensus: 1, tx: 2, status: 3, 'sync-req': 4, 'sync-res': 5 } as const;
export type PeerKind = keyof typeof PEER_KINDS;
const KIND_OF_BYTE: readonly (PeerKind | undefined)[] = (() => {
  const t: (PeerKind | undefined)[] = [];
  for (const [k, b] of Object.entries(PEER_KINDS)) t[b] = k as PeerKind;
  return t;
})();

/** Node ids (validators and observers of genesis) are meter-id shaped. */
export const PEER_ID_PATTERN = METER_ID_PATTERN;

export const PeerWireCode = {
  /** Not an envelope of this version: framing, lengths, domain, kind or ids wrong. */
  MALFORMED: 'E_P2P_MALFORMED',
  /** Larger than MAX_PEER_ENVELOPE_BYTES. */
  TOO_LARGE: 'E_P2P_TOO_LARGE',
} as const;

export interface PeerHeader {
  readonly kind: PeerKind;
  /** The sender's clock, ms since the Unix epoch. */
  readonly timeMs: number;
  readonly payloadLength: number;
  /** SHA-256 of the payload, 32 bytes. */
  readonly payloadDigest: Uint8Array;
  readonly chainId: string;
  readonly from: string;
  /** The one peer this is for; '' for every peer. */
  readonly to: string;
}

export interface ParsedPeerEnvelope {
  readonly header: PeerHeader;
  /** The signed bytes (a view into the input). */
  readonly headerBytes: Uint8Array;
  readonly signature: Uint8Array;
  /** Not yet checked against payloadDigest: the caller does that after the signature. */
  readonly payload: Uint8Array;
}

/** domain, kind, timeMs, payloadLength, payloadDigest: the fixed part of the header. */
const FIXED = DOMAIN.length + 1 + 8 + 4 + 32;
const SIGNATURE = 64;
const MAX_ID = 64;
/** The smallest envelope: one-byte chain and sender, no addressee, empty payload. */
export const MIN_PEER_ENVELOPE_BYTES = FIXED + 2 + 2 + 1 + SIGNATURE;

const malformed = (why: string): ProtocolError => new ProtocolError(PeerWireCode.MALFORMED, why);

function idBytes(id: string, field: string, pattern: RegExp, allowEmpty: boolean): Uint8Array {
  if (typeof id !== 'string' || !(id === '' ? allowEmpty : pattern.test(id))) throw new TypeError(`${field}: must match ${pattern}${allowEmpty ? ' or be empty' : ''}`);
  return utf8(id); // ASCII by the pattern: one byte per character
}

/** The header bytes the sender signs. Throws TypeError on a field out of range. */
export function encodePeerHeader(h: PeerHeader): Uint8Array {
  const kind = PEER_KINDS[h.kind];
  if (kind === undefined) throw new TypeError(`kind: unknown kind "${String(h.kind)}"`);
  if (!Number.isSafeInteger(h.timeMs) || h.timeMs < 0) throw new TypeError('timeMs: must be a non-negative safe integer');
  if (!Number.isSafeInteger(h.payloadLength) || h.payloadLength < 0 || h.payloadLength > MAX_PEER_ENVELOPE_BYTES) {
    throw new TypeError(`payloadLength: must be 0..${MAX_PEER_ENVELOPE_BYTES}`);
  }
  if (!(h.payloadDigest instanceof Uint8Array) || h.payloadDigest.length !== 32) throw new TypeError('payloadDigest: must be 32 bytes');
  const chain = idBytes(h.chainId, 'chainId', CHAIN_ID_PATTERN, false);
  const from = idBytes(h.from, 'from', PEER_ID_PATTERN, false);
  const to = idBytes(h.to, 'to', PEER_ID_PATTERN, true);
  const out = new Uint8Array(FIXED + 3 + chain.length + from.length + to.length);
  const view = new DataView(out.buffer);
  out.set(DOMAIN, 0);
  let at = DOMAIN.length;
  out[at++] = kind;
  view.setUint32(at, Math.floor(h.timeMs / 2 ** 32));
  view.setUint32(at + 4, h.timeMs >>> 0);
  at += 8;
  view.setUint32(at, h.payloadLength);
  at += 4;
  out.set(h.payloadDigest, at);
  at += 32;
  for (const id of [chain, from, to]) {
    out[at++] = id.length;
    out.set(id, at);
    at += id.length;
  }
  return out;
}

/** header ‖ signature ‖ payload. */
export function joinPeerEnvelope(headerBytes: Uint8Array, signature: Uint8Array, payload: Uint8Array): Uint8Array {
  if (signature.length !== SIGNATURE) throw new TypeError('signature: must be 64 bytes');
  const total = headerBytes.length + SIGNATURE + payload.length;
  if (total > MAX_PEER_ENVELOPE_BYTES) throw new ProtocolError(PeerWireCode.TOO_LARGE, `envelope of ${total} bytes exceeds ${MAX_PEER_ENVELOPE_BYTES}`);
  return concatBytes(headerBytes, signature, payload);
}

/** An id field: its length byte, then that many bytes matching `pattern`. */
function readId(b: Uint8Array, at: number, field: string, pattern: RegExp, allowEmpty: boolean): [string, number] {
  if (at >= b.length) throw malformed(`envelope ends before ${field}`);
  const len = b[at]!;
  if (len > MAX_ID || (len === 0 && !allowEmpty)) throw malformed(`${field} length ${len} is out of range`);
  if (at + 1 + len > b.length) throw malformed(`envelope ends inside ${field}`);
  let s = '';
  for (let i = at + 1; i < at + 1 + len; i++) {
    const c = b[i]!;
    if (c < 0x21 || c > 0x7e) throw malformed(`${field} is not printable ASCII`);
    s += String.fromCharCode(c);
  }
  if (len > 0 && !pattern.test(s)) throw malformed(`${field} must match ${pattern}`);
  return [s, at + 1 + len];
}

/**
 * Read the frame: constant work per envelope (ids are at most 64 bytes), nothing decoded,
 * the payload only sliced. Refuses anything but exactly one well-formed envelope.
 */
export function parsePeerEnvelope(bytes: Uint8Array): ParsedPeerEnvelope {
  if (!(bytes instanceof Uint8Array)) throw malformed('envelope must be bytes');
  if (bytes.length > MAX_PEER_ENVELOPE_BYTES) throw new ProtocolError(PeerWireCode.TOO_LARGE, `envelope of ${bytes.length} bytes exceeds ${MAX_PEER_ENVELOPE_BYTES}`);
  if (bytes.length < MIN_PEER_ENVELOPE_BYTES) throw malformed(`envelope of ${bytes.length} bytes is shorter than any envelope`);
  if (!equalBytes(bytes.subarray(0, DOMAIN.length), DOMAIN)) throw malformed(`envelope does not start with "${PEER_ENVELOPE_DOMAIN}"`);
  let at = DOMAIN.length;
  const kind = KIND_OF_BYTE[bytes[at++]!];
  if (kind === undefined) throw malformed(`unknown kind ${bytes[at - 1]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  at += 8;
  if (hi >= 2 ** 21) throw malformed('timeMs is above 2^53 - 1');
  const timeMs = hi * 2 ** 32 + lo;
  const payloadLength = view.getUint32(at);
  at += 4;
  const payloadDigest = bytes.subarray(at, at + 32);
  at += 32;
  let chainId: string, from: string, to: string;
  [chainId, at] = readId(bytes, at, 'chainId', CHAIN_ID_PATTERN, false);
  [from, at] = readId(bytes, at, 'from', PEER_ID_PATTERN, false);
  [to, at] = readId(bytes, at, 'to', PEER_ID_PATTERN, true);
  const headerEnd = at;
  if (bytes.length !== headerEnd + SIGNATURE + payloadLength) {
    throw malformed(`envelope is ${bytes.length} bytes; its header says ${headerEnd + SIGNATURE + payloadLength}`);
  }
  return {
    header: { kind, timeMs, payloadLength, payloadDigest, chainId, from, to },
    headerBytes: bytes.subarray(0, headerEnd),
    signature: bytes.subarray(headerEnd, headerEnd + SIGNATURE),
    payload: bytes.subarray(headerEnd + SIGNATURE),
  };
}

/**
 * An envelope's id: SHA-256 of its header. The header holds the payload digest, so the
 * id names the whole signed content; it keys the replay cache and binds answers.
 */
export const peerEnvelopeId = (headerBytes: Uint8Array): Uint8Array => sha256(headerBytes);

/** A sync-res payload: the id of the request it answers, then the answer. */
export const bindAnswer = (requestId: Uint8Array, answer: Uint8Array): Uint8Array => concatBytes(requestId, answer);

/** The answer inside a sync-res payload if it is bound to `requestId`, else undefined. */
export function unbindAnswer(payload: Uint8Array, requestId: Uint8Array): Uint8Array | undefined {
  if (payload.length < 32 || !equalBytes(payload.subarray(0, 32), requestId)) return undefined;
  return payload.subarray(32);
}

/** One subject token for a chain or node id: NATS separates tokens with '.'. */
export const subjectToken = (id: string): string => id.replaceAll('.', '_');

/**
 * Subjects per chain. Two ids that map to one token share a subject; nothing is
 * misattributed, since chain, sender and addressee inside the signed header are checked.
 */
export function peerSubjects(chainId: string) {
  const base = `ml.${subjectToken(chainId)}`;
  return {
    consensus: `${base}.consensus`,
    tx: `${base}.tx`,
    status: `${base}.status`,
    sync: `${base}.sync`,
    syncTo: (nodeId: string) => `${base}.sync.${subjectToken(nodeId)}`,
    /** The durable stream of accepted transactions (JetStream, docs/protocol.md §12.5). */
    txlog: `${base}.txlog`,
  } as const;
}
