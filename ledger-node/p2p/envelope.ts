/**
 * Sealing and opening peer envelopes (format: protocols/p2p.ts, docs/protocol.md §12)
 * with OpenSSL: Ed25519 (RFC 8032) over the header, SHA-256 over the payload.
 *
 * Opening runs the checks cheapest first and touches the payload only once the header is
 * authenticated: frame and size, kind for the subject, chain, sender, addressee, time,
 * signature, replay, and last the payload digest. Until the signature checks out the work
 * is a few byte reads and one Ed25519 verification of a header of at most ~260 bytes,
 * whatever the envelope's size.
 */
import { type KeyObject, createHash } from 'node:crypto';
import {
  Alg, type PeerKind, ProtocolError, encodePeerHeader, equalBytes, joinPeerEnvelope, parsePeerEnvelope, publicKeyProblem,
} from '../../protocols/index.js';
import { nativeSign, nativeVerify, publicKeyObject } from '../crypto/native.js';
import { P2pCode, P2pError } from './errors.js';
import type { ReplayGuard } from './replay.js';
import type { PeerKey } from './transport.js';

export { MAX_PEER_ENVELOPE_BYTES as MAX_ENVELOPE_BYTES } from '../../protocols/index.js';

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/**
 * Keys that passed publicKeyProblem, by their hex, with their KeyObject: the point checks
 * cost about a millisecond a key, and a peer layer made again (a restart, new peers)
 * meets the same few keys. Bounded by the keys a process is given.
 */
const vetted = new Map<string, KeyObject>();

/** KeyObjects of the peers of genesis, built once (a KeyObject costs more than a verify). */
export function peerKeyObjects(peers: readonly PeerKey[]): Map<string, KeyObject> {
  const map = new Map<string, KeyObject>();
  for (const p of peers) {
    if (map.has(p.id)) throw new P2pError(P2pCode.CONFIG, `peer "${p.id}" listed twice`);
    const hex = Buffer.from(p.publicKey).toString('hex');
    let key = vetted.get(hex);
    if (!key) {
      const problem = publicKeyProblem(Alg.EdDSA, p.publicKey);
      if (problem) throw new P2pError(P2pCode.CONFIG, `peer "${p.id}": ${problem}`);
      vetted.set(hex, (key = publicKeyObject(Alg.EdDSA, p.publicKey)));
    }
    map.set(p.id, key);
  }
  return map;
}

/**
 * How envelope headers are signed and checked, with the node's key and the peers' keys.
 * The node uses Ed25519 over OpenSSL (RFC 8032), the default everywhere; the consensus
 * simulation injects keyed-hash tags of the same size, to afford thousands of seeds.
 */
export interface EnvelopeScheme {
  /** A 64-byte signature of `header`. */
  sign(privateKey: KeyObject, header: Uint8Array): Uint8Array;
  verify(publicKey: KeyObject, header: Uint8Array, signature: Uint8Array): boolean;
}

export const ED25519_ENVELOPES: EnvelopeScheme = {
  sign: (key, header) => nativeSign(Alg.EdDSA, key, header),
  verify: (key, header, signature) => nativeVerify(Alg.EdDSA, key, header, signature),
};

export interface SealedEnvelope {
  readonly bytes: Uint8Array;
  /** SHA-256 of the header: what a sync-res answering it is bound to. */
  readonly id: Uint8Array;
}

/**
 * Sign `payload` as `nodeId` for `chainId`, addressed to `to` ('' for every peer).
 * Throws P2pError E_P2P_TOO_LARGE past the envelope limit, TypeError on a bad field.
 */
export function sealEnvelope(
  chainId: string, nodeId: string, privateKey: KeyObject, kind: PeerKind, payload: Uint8Array, timeMs: number, to = '',
  scheme: EnvelopeScheme = ED25519_ENVELOPES,
): SealedEnvelope {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('privateKey: must be an Ed25519 private key');
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload: must be a Uint8Array');
  const header = encodePeerHeader({ kind, timeMs, payloadLength: payload.length, payloadDigest: sha256(payload), chainId, from: nodeId, to });
  try {
    return { bytes: joinPeerEnvelope(header, scheme.sign(privateKey, header), payload), id: sha256(header) };
  } catch (e) {
    if (e instanceof ProtocolError && e.code === P2pCode.TOO_LARGE) throw new P2pError(P2pCode.TOO_LARGE, e.message);
    throw e;
  }
}

export interface OpenedEnvelope {
  readonly from: string;
  readonly kind: PeerKind;
  /** '' for every peer, else our own id. */
  readonly to: string;
  readonly timeMs: number;
  /** A copy the caller owns. */
  readonly payload: Uint8Array;
  readonly id: Uint8Array;
}

export interface OpenContext {
  readonly chainId: string;
  /** Our own id: envelopes from it are refused, envelopes to another are misaddressed. */
  readonly nodeId: string;
  /** Keys of the other peers of genesis. */
  readonly peers: ReadonlyMap<string, KeyObject>;
  /** Our clock now, ms since the epoch. */
  readonly now: number;
  readonly replay: ReplayGuard;
  /** Default Ed25519. */
  readonly scheme?: EnvelopeScheme;
}

const fail = (code: P2pCode, why: string): never => {
  throw new P2pError(code, why);
};

/** The frame of §12.1, its faults as P2pErrors. */
function parseFrame(bytes: Uint8Array): ReturnType<typeof parsePeerEnvelope> {
  try {
    return parsePeerEnvelope(bytes);
  } catch (e) {
    if (e instanceof ProtocolError) throw new P2pError(e.code === P2pCode.TOO_LARGE ? P2pCode.TOO_LARGE : P2pCode.MALFORMED, e.message);
    throw e;
  }
}

/**
 * Check an envelope that came in where `expect` envelopes travel and return what it
 * carries; remembers it in `ctx.replay`. Throws P2pError with the reason otherwise.
 */
export function openEnvelope(bytes: Uint8Array, ctx: OpenContext, expect: PeerKind): OpenedEnvelope {
  const env = parseFrame(bytes);
  const h = env.header;
  if (h.kind !== expect) fail(P2pCode.MISADDRESSED, `a ${h.kind} envelope where ${expect} envelopes travel`);
  if (h.chainId !== ctx.chainId) fail(P2pCode.WRONG_CHAIN, `envelope for chain "${h.chainId}", we are on "${ctx.chainId}"`);
  const key = ctx.peers.get(h.from);
  if (!key) fail(P2pCode.UNKNOWN_PEER, h.from === ctx.nodeId ? 'envelope in our own name' : `"${h.from}" is not a peer of genesis`);
  // Broadcasts and heartbeats go to everyone, answers to the one who asked, requests either.
  const to = h.kind === 'sync-res' ? ctx.nodeId : h.kind === 'sync-req' ? (h.to === '' ? '' : ctx.nodeId) : '';
  if (h.to !== to) fail(P2pCode.MISADDRESSED, `a ${h.kind} envelope for "${h.to}"`);
  if (Math.abs(h.timeMs - ctx.now) > ctx.replay.windowMs) {
    fail(P2pCode.STALE, `dated ${h.timeMs - ctx.now} ms from our clock, outside ±${ctx.replay.windowMs} ms`);
  }
  if (!(ctx.scheme ?? ED25519_ENVELOPES).verify(key!, env.headerBytes, env.signature)) fail(P2pCode.BAD_SIGNATURE, `signature of "${h.from}" does not verify`);
  const id = sha256(env.headerBytes);
  const idKey = Buffer.from(id).toString('latin1');
  const verdict = ctx.replay.check(h.from, idKey, h.timeMs, ctx.now);
  if (verdict === 'replay') fail(P2pCode.REPLAY, `an envelope of "${h.from}" already taken`);
  if (verdict === 'stale') fail(P2pCode.STALE, `an envelope of "${h.from}" older than the replay cache remembers`);
  if (!equalBytes(sha256(env.payload), h.payloadDigest)) fail(P2pCode.MALFORMED, 'payload does not match the digest in its header');
  ctx.replay.remember(h.from, idKey, h.timeMs, ctx.now);
  // A copy, not pinning the receive buffer (and not Buffer#slice, which is a view).
  return { from: h.from, kind: h.kind, to: h.to, timeMs: h.timeMs, payload: new Uint8Array(env.payload), id };
}

/**
 * Open a 'tx' envelope taken from the durable stream (docs/protocol.md §12.5): frame,
 * kind, chain, sender (any peer of genesis, ourselves included: our own publications come
 * back to our consumer), addressee, signature, then the digest. Not its time nor the
 * replay cache: a stream redelivers on purpose, days later if need be, and what it
 * carries is idempotent (a transaction held or committed is taken as done). Throws P2pError.
 */
export function openStreamEnvelope(
  bytes: Uint8Array, chainId: string, peers: ReadonlyMap<string, KeyObject | readonly KeyObject[]>,
): { from: string; payload: Uint8Array } {
  const env = parseFrame(bytes);
  const h = env.header;
  if (h.kind !== 'tx') fail(P2pCode.MISADDRESSED, `a ${h.kind} envelope where tx envelopes travel`);
  if (h.chainId !== chainId) fail(P2pCode.WRONG_CHAIN, `envelope for chain "${h.chainId}", we are on "${chainId}"`);
  const key = peers.get(h.from);
  if (!key) fail(P2pCode.UNKNOWN_PEER, `"${h.from}" is not a peer of genesis`);
  if (h.to !== '') fail(P2pCode.MISADDRESSED, `a tx envelope for "${h.to}"`);
  const keys: readonly KeyObject[] = Array.isArray(key) ? key : [key as KeyObject];
  if (!keys.some((k) => nativeVerify(Alg.EdDSA, k, env.headerBytes, env.signature))) fail(P2pCode.BAD_SIGNATURE, `signature of "${h.from}" does not verify`);
  if (!equalBytes(sha256(env.payload), h.payloadDigest)) fail(P2pCode.MALFORMED, 'payload does not match the digest in its header');
  return { from: h.from, payload: new Uint8Array(env.payload) };
}
