/**
 * Signed peer envelopes: what every gateway puts on the wire, whatever carries it.
 *
 *   envelope = CBOR [ body: bstr, signature: bstr(64) ]
 *   body     = CBOR [ "meterledger/p2p/v1", chainId: tstr, from: tstr, kind: tstr,
 *                     payload: bstr, timeMs: uint ]
 *   signature = Ed25519 (RFC 8032 §5.1.6) by `from`'s genesis key over the body bytes
 *               exactly as they travel.
 *
 * Both layers are deterministic CBOR (RFC 8949 §4.2.1) and decoded strictly, so one
 * message has one encoding. The domain string keeps these signatures apart from every
 * other thing a validator key signs (votes, blocks). Pure apart from node:crypto.
 */
import type { KeyObject } from 'node:crypto';
import { Alg, CHAIN_ID_PATTERN, decodeCanonicalCbor, encodeCbor, publicKeyProblem } from '../../protocols/index.js';
import { nativeSign, nativeVerify, publicKeyObject } from '../crypto/native.js';
import type { PeerKey } from './transport.js';

export const ENVELOPE_DOMAIN = 'meterledger/p2p/v1';

/** Largest envelope sent or accepted: a block can be big. NATS needs `max_payload: 8MB`. */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

/** 'status' is internal to the transport (heartbeats); the node never sees it. */
export const ENVELOPE_KINDS = ['consensus', 'tx', 'sync-req', 'sync-res', 'status'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

export const P2pCode = {
  /** Not an envelope: bad CBOR, wrong shape, wrong domain, unknown kind. */
  MALFORMED: 'E_P2P_MALFORMED',
  /** Larger than MAX_ENVELOPE_BYTES (or the NATS server's max_payload). */
  TOO_LARGE: 'E_P2P_TOO_LARGE',
  /** The sender is not a validator or observer of genesis. */
  UNKNOWN_PEER: 'E_P2P_UNKNOWN_PEER',
  /** The signature does not verify with the sender's genesis key. */
  BAD_SIGNATURE: 'E_P2P_BAD_SIGNATURE',
  /** Signed for another chain. */
  WRONG_CHAIN: 'E_P2P_WRONG_CHAIN',
  /** A request got no valid answer in time. */
  TIMEOUT: 'E_P2P_TIMEOUT',
  /** Nobody listens on the request subject. */
  NO_RESPONDERS: 'E_P2P_NO_RESPONDERS',
  /** Not connected to any server right now. */
  DISCONNECTED: 'E_P2P_DISCONNECTED',
  /** The transport was closed. */
  CLOSED: 'E_P2P_CLOSED',
  /** No server could be reached. */
  CONNECT: 'E_P2P_CONNECT',
  /** The server refused our credentials. */
  AUTH: 'E_P2P_AUTH',
  /** Bad options (ids, keys). */
  CONFIG: 'E_P2P_CONFIG',
} as const;
export type P2pCode = (typeof P2pCode)[keyof typeof P2pCode];

export class P2pError extends Error {
  override readonly name = 'P2pError';
  constructor(
    readonly code: P2pCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

export interface OpenedEnvelope {
  readonly from: string;
  readonly kind: EnvelopeKind;
  readonly payload: Uint8Array;
  readonly timeMs: number;
}

const isKind = (x: unknown): x is EnvelopeKind => typeof x === 'string' && (ENVELOPE_KINDS as readonly string[]).includes(x);

/** KeyObjects for the peers of genesis, built once (a KeyObject costs more than a verify). */
export function peerKeyObjects(peers: readonly PeerKey[]): Map<string, KeyObject> {
  const map = new Map<string, KeyObject>();
  for (const p of peers) {
    if (map.has(p.id)) throw new P2pError(P2pCode.CONFIG, `peer "${p.id}" listed twice`);
    const problem = publicKeyProblem(Alg.EdDSA, p.publicKey);
    if (problem) throw new P2pError(P2pCode.CONFIG, `peer "${p.id}": ${problem}`);
    map.set(p.id, publicKeyObject(Alg.EdDSA, p.publicKey));
  }
  return map;
}

/** Sign `payload` as `nodeId` for `chainId`. Throws P2pError E_P2P_TOO_LARGE past the limit. */
export function sealEnvelope(
  chainId: string,
  nodeId: string,
  privateKey: KeyObject,
  kind: EnvelopeKind,
  payload: Uint8Array,
  timeMs: number,
): Uint8Array {
  if (!CHAIN_ID_PATTERN.test(chainId)) throw new TypeError(`chainId: must match ${CHAIN_ID_PATTERN}`);
  if (typeof nodeId !== 'string' || nodeId.length === 0) throw new TypeError('nodeId: must be a non-empty string');
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('privateKey: must be an Ed25519 private key');
  if (!isKind(kind)) throw new TypeError(`kind: unknown kind "${String(kind)}"`);
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload: must be a Uint8Array');
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new TypeError('timeMs: must be a non-negative safe integer');
  const body = encodeCbor([ENVELOPE_DOMAIN, chainId, nodeId, kind, payload, timeMs]);
  const envelope = encodeCbor([body, nativeSign(Alg.EdDSA, privateKey, body)]);
  if (envelope.length > MAX_ENVELOPE_BYTES) {
    throw new P2pError(P2pCode.TOO_LARGE, `envelope of ${envelope.length} bytes exceeds ${MAX_ENVELOPE_BYTES}`);
  }
  return envelope;
}

const malformed = (why: string, cause?: unknown): P2pError =>
  new P2pError(P2pCode.MALFORMED, why, cause === undefined ? undefined : { cause });

function decode(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw malformed(`${what} is not deterministic CBOR`, cause);
  }
}

/**
 * Check an envelope for `chainId` against the peers' keys and return what it carries.
 * Checks run cheapest first: size, shape, chain, sender, then the signature.
 */
export function openEnvelope(bytes: Uint8Array, chainId: string, peers: ReadonlyMap<string, KeyObject>): OpenedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw malformed('envelope must be bytes');
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new P2pError(P2pCode.TOO_LARGE, `envelope of ${bytes.length} bytes exceeds ${MAX_ENVELOPE_BYTES}`);
  const outer = decode(bytes, 'envelope');
  if (!Array.isArray(outer) || outer.length !== 2) throw malformed('envelope must be [body, signature]');
  const [bodyBytes, signature] = outer as unknown[];
  if (!(bodyBytes instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw malformed('body and signature must be byte strings');
  if (signature.length !== 64) throw malformed('signature must be 64 bytes');

  const body = decode(bodyBytes, 'body');
  if (!Array.isArray(body) || body.length !== 6) throw malformed('body must be an array of 6');
  const [domain, chain, from, kind, payload, timeMs] = body as unknown[];
  if (domain !== ENVELOPE_DOMAIN) throw malformed(`body[0] must be "${ENVELOPE_DOMAIN}"`);
  if (typeof chain !== 'string') throw malformed('chainId must be a text string');
  if (typeof from !== 'string') throw malformed('from must be a text string');
  if (!isKind(kind)) throw malformed(`unknown kind ${JSON.stringify(kind)}`);
  if (!(payload instanceof Uint8Array)) throw malformed('payload must be a byte string');
  if (typeof timeMs !== 'number' || !Number.isSafeInteger(timeMs) || timeMs < 0) throw malformed('timeMs must be an unsigned integer');

  if (chain !== chainId) throw new P2pError(P2pCode.WRONG_CHAIN, `envelope for chain "${chain}", we are on "${chainId}"`);
  const key = peers.get(from);
  if (!key) throw new P2pError(P2pCode.UNKNOWN_PEER, `"${from}" is not a peer of genesis`);
  if (!nativeVerify(Alg.EdDSA, key, bodyBytes, signature)) throw new P2pError(P2pCode.BAD_SIGNATURE, `signature of "${from}" does not verify`);
  // A copy the caller owns, not pinning the receive buffer. Not payload.slice(): cborg
  // hands out Node Buffers in Node, whose slice() is a view.
  return { from, kind, payload: new Uint8Array(payload), timeMs };
}
