/**
 * The payloads peers send each other inside the envelope of ./p2p.ts (docs/protocol.md
 * §12.6-§12.9), in deterministic CBOR, each decoded under a bound on its item heads
 * (§12.4) and refused with `E_P2P_MALFORMED` when it is not exactly the format below:
 *
 *   consensus  proposal  {t, from, height, round, validRound, block, signature}
 *              prevote / precommit {t, from, height, round, blockHash, signature}
 *              status    {t, height}
 *   proposal sign bytes  ["meterledger/proposal/v1", chainId, height, round, validRound, blockHash]
 *   vote sign bytes      voteSignBytes of ./block.ts (§5), the bytes commit certificates hold
 *   tx (gossip)          [tx bstr, ...], 1 to MAX_GOSSIP_BATCH
 *   sync-req             {t: "block", height}
 *   sync-res answer      {block, commit} or {missing: true}
 *
 * Pure: the signatures are made and checked by the caller, which knows the keys.
 */
import { type Block, VoteType, decodeBlock, headerHash, voteSignBytes } from './block.js';
import { type CborLimits, cborLimitsProblem, decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { ProtocolError } from './errors.js';
import { PEER_ID_PATTERN } from './p2p.js';

/**
 * Bounds on decoding what a peer sent, checked on the item heads before anything is built
 * (a signed envelope does not make its body small). A block over the wire has at most
 * 2^17 transactions (8 MiB envelopes, no transaction is under 64 bytes); a commit at most
 * 2^12 signatures.
 */
export const PEER_LIMITS = {
  message: { maxItems: 16, maxDepth: 2 },
  block: { maxItems: 3 + 2 ** 17, maxDepth: 3 },
  commit: { maxItems: 10 + 5 * 2 ** 12, maxDepth: 4 },
  sync: { maxItems: 5, maxDepth: 2 },
} as const satisfies Record<string, CborLimits>;

/** Most transactions one gossip batch may carry (the envelope's 8 MiB bounds it too). */
export const MAX_GOSSIP_BATCH = 10_000;

/** The domain of a proposal's sign bytes. */
export const PROPOSAL_SIGN_DOMAIN = 'meterledger/proposal/v1';

export interface SignedProposal {
  readonly t: 'proposal';
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly validRound: number;
  readonly blockBytes: Uint8Array;
  readonly block: Block;
  /** SHA-256 of the block's header bytes: what the signature covers (not a field on the wire). */
  readonly blockHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SignedVote {
  readonly t: 'prevote' | 'precommit';
  readonly from: string;
  readonly height: number;
  readonly round: number;
  /** null is a vote for nil. */
  readonly blockHash: Uint8Array | null;
  readonly signature: Uint8Array;
}

/** A peer's committed height (unsigned: the envelope is). */
export interface StatusMessage {
  readonly t: 'status';
  readonly height: number;
}

export type PeerMessage = SignedProposal | SignedVote | StatusMessage;

/** What the proposer signs: the block by its header hash, so the signature binds the txs through txRoot. */
export const proposalSignBytes = (chainId: string, height: number, round: number, validRound: number, blockHash: Uint8Array): Uint8Array =>
  encodeCbor([PROPOSAL_SIGN_DOMAIN, chainId, height, round, validRound, blockHash]);

/** What a voter signs: §5's vote sign bytes, type 1 prevote, 2 precommit. */
export const voteBytesOf = (chainId: string, v: Omit<SignedVote, 'signature'>): Uint8Array =>
  voteSignBytes(chainId, v.t === 'prevote' ? VoteType.Prevote : VoteType.Precommit, v.height, v.round, v.blockHash);

/** The sign bytes of a signed consensus message. */
export const peerMessageSignBytes = (chainId: string, m: SignedProposal | SignedVote): Uint8Array =>
  m.t === 'proposal' ? proposalSignBytes(chainId, m.height, m.round, m.validRound, m.blockHash) : voteBytesOf(chainId, m);

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  switch (m.t) {
    case 'proposal':
      return encodeCbor({ t: m.t, from: m.from, height: m.height, round: m.round, validRound: m.validRound, block: m.blockBytes, signature: m.signature });
    case 'prevote':
    case 'precommit':
      return encodeCbor({ t: m.t, from: m.from, height: m.height, round: m.round, blockHash: m.blockHash, signature: m.signature });
    case 'status':
      return encodeCbor({ t: m.t, height: m.height });
  }
}

const bad = (msg: string, cause?: unknown): ProtocolError => new ProtocolError('E_P2P_MALFORMED', msg, cause === undefined ? undefined : { cause });

const uint = (v: unknown, f: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${f} must be an unsigned integer below 2^53`);
  return v;
};
const bytes = (v: unknown, f: string, len?: number): Uint8Array => {
  if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len)) throw bad(`${f} must be a byte string${len === undefined ? '' : ` of ${len} bytes`}`);
  return v;
};
const peerId = (v: unknown, f: string): string => {
  if (typeof v !== 'string' || !PEER_ID_PATTERN.test(v)) throw bad(`${f} must be a node id`);
  return v;
};

/** Deterministic CBOR within `limits`, a map with exactly `keys` (text). */
function exactMap(b: Uint8Array, limits: CborLimits, what: string, keys?: (m: Map<unknown, unknown>) => readonly string[]): Map<unknown, unknown> {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(b, limits);
  } catch (cause) {
    throw bad(`${what}: ${(cause as Error).message}`, cause);
  }
  if (!(m instanceof Map)) throw bad(`${what} must be a map`);
  if (keys) {
    const want = keys(m);
    if (m.size !== want.length || !want.every((k) => m.has(k))) throw bad(`${what} must have exactly the fields ${want.join(', ')}`);
  }
  return m;
}

const FIELDS: Record<string, readonly string[]> = {
  proposal: ['t', 'from', 'height', 'round', 'validRound', 'block', 'signature'],
  prevote: ['t', 'from', 'height', 'round', 'blockHash', 'signature'],
  precommit: ['t', 'from', 'height', 'round', 'blockHash', 'signature'],
  status: ['t', 'height'],
};

/**
 * Decode a consensus payload (§12.6). A proposal's block must be block bytes of §5
 * (`E_BLOCK_MALFORMED` otherwise); signatures are the caller's to check.
 */
export function decodePeerMessage(b: Uint8Array): PeerMessage {
  const m = exactMap(b, PEER_LIMITS.message, 'consensus message', (x) => {
    const t = x.get('t');
    const f = typeof t === 'string' && Object.hasOwn(FIELDS, t) ? FIELDS[t] : undefined;
    if (!f) throw bad('unknown message type');
    return f;
  });
  const t = m.get('t') as PeerMessage['t'];
  if (t === 'status') return { t, height: uint(m.get('height'), 'height') };
  const from = peerId(m.get('from'), 'from');
  const height = uint(m.get('height'), 'height');
  const round = uint(m.get('round'), 'round');
  if (t === 'proposal') {
    const validRound = m.get('validRound');
    if (typeof validRound !== 'number' || !Number.isSafeInteger(validRound) || validRound < -1) throw bad('validRound must be an integer >= -1');
    const signature = bytes(m.get('signature'), 'signature', 64);
    const blockBytes = bytes(m.get('block'), 'block');
    const block = decodeBlock(blockBytes, PEER_LIMITS.block);
    return { t, from, height, round, validRound, blockBytes, block, blockHash: headerHash(block.header), signature };
  }
  const h = m.get('blockHash');
  return { t, from, height, round, blockHash: h === null ? null : bytes(h, 'blockHash', 32), signature: bytes(m.get('signature'), 'signature', 64) };
}

export const encodeTxBatch = (txs: readonly Uint8Array[]): Uint8Array => encodeCbor(txs);

/** A gossip batch (§12.7): a non-empty array of transaction byte strings, in order. */
export function decodeTxBatch(b: Uint8Array): Uint8Array[] {
  let v: unknown;
  try {
    v = decodeCanonicalCbor(b, { maxItems: 1 + MAX_GOSSIP_BATCH, maxDepth: 2 });
  } catch (cause) {
    throw bad(`gossip batch: ${(cause as Error).message}`, cause);
  }
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_GOSSIP_BATCH) throw bad(`gossip must be an array of 1..${MAX_GOSSIP_BATCH} transactions`);
  for (const t of v) if (!(t instanceof Uint8Array)) throw bad('every gossiped transaction must be a bstr');
  return v as Uint8Array[];
}

/** Sync request (§12.8): the block of `height`, with its commit certificate. */
export const encodeSyncRequest = (height: number): Uint8Array => encodeCbor({ t: 'block', height });
export function decodeSyncRequest(b: Uint8Array): number {
  const m = exactMap(b, PEER_LIMITS.sync, 'sync request', () => ['t', 'height']);
  if (m.get('t') !== 'block') throw bad('not a block request');
  return uint(m.get('height'), 'height');
}

export interface SyncAnswer {
  /** Block bytes (§5). */
  readonly block: Uint8Array;
  /** Commit certificate bytes (§5). */
  readonly commit: Uint8Array;
}

/** Sync answer (§12.8): the stored block and its commit, or `{missing: true}` for undefined. */
export const encodeSyncAnswer = (a: SyncAnswer | undefined): Uint8Array =>
  encodeCbor(a ? { block: a.block, commit: a.commit } : { missing: true });

const bounded = (b: Uint8Array, limits: CborLimits, what: string): Uint8Array => {
  const problem = cborLimitsProblem(b, limits);
  if (problem) throw bad(`${what}: ${problem}`);
  return b;
};

/** The block and commit come back checked against PEER_LIMITS, so decoding them next is bounded. */
export function decodeSyncAnswer(b: Uint8Array): SyncAnswer | undefined {
  const m = exactMap(b, PEER_LIMITS.sync, 'sync answer', (x) => (x.has('missing') ? ['missing'] : ['block', 'commit']));
  if (m.has('missing')) {
    if (m.get('missing') !== true) throw bad('missing must be true');
    return undefined;
  }
  return {
    block: bounded(bytes(m.get('block'), 'block'), PEER_LIMITS.block, 'block'),
    commit: bounded(bytes(m.get('commit'), 'commit'), PEER_LIMITS.commit, 'commit'),
  };
}
