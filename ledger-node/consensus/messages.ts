/**
 * What validators send each other, signed (Ed25519) and in deterministic CBOR:
 *   proposal  {t, from, height, round, validRound, block (block bytes), signature}
 *             signed over ["meterledger/proposal/v1", chainId, height, round, validRound, blockHash]
 *   prevote / precommit {t, from, height, round, blockHash (bstr32 | null), signature}
 *             signed over protocols' voteSignBytes (a precommit is what commit certificates hold)
 *   status    {t, height}: the sender's committed height, so laggards know to sync
 * Sync requests {t: "block", height} are answered with {block, commit} or {missing: true}.
 * Gossip (envelope kind 'tx'): [tx bstr, ...], accepted transactions in accept order,
 * batched so that one signed envelope carries many readings.
 */
import {
  type Block, type CborLimits, ProtocolError, VoteType, cborLimitsProblem, decodeBlock, decodeCanonicalCbor, encodeCbor, fromHex,
  headerHash, toHex, voteSignBytes,
} from '../../protocols/index.js';
import type { ConsensusMessage } from './types.js';

/** A block as the core sees it: its id is the header hash, hex. */
export interface BlockValue {
  readonly block: Block;
  readonly bytes: Uint8Array;
  readonly id: string;
}

/**
 * Bounds on decoding what a peer sent, checked on the item heads before anything is built
 * (a signed envelope does not make its body small: issue 18). A block over the wire has
 * at most 2^17 transactions (8 MiB envelopes, no transaction is under 64 bytes); a commit
 * at most 2^12 signatures.
 */
export const PEER_LIMITS = {
  message: { maxItems: 16, maxDepth: 2 },
  block: { maxItems: 3 + 2 ** 17, maxDepth: 3 },
  commit: { maxItems: 10 + 5 * 2 ** 12, maxDepth: 4 },
  sync: { maxItems: 5, maxDepth: 2 },
} as const satisfies Record<string, CborLimits>;

const bounded = (b: Uint8Array, limits: CborLimits, what: string): Uint8Array => {
  const problem = cborLimitsProblem(b, limits);
  if (problem) throw new ProtocolError('E_P2P_MALFORMED', `${what}: ${problem}`);
  return b;
};

export interface SignedProposal {
  readonly t: 'proposal';
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly validRound: number;
  readonly blockBytes: Uint8Array;
  readonly block: Block;
  readonly blockHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SignedVote {
  readonly t: 'prevote' | 'precommit';
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array | null;
  readonly signature: Uint8Array;
}

export type PeerMessage = SignedProposal | SignedVote | { readonly t: 'status'; readonly height: number };

export const proposalSignBytes = (chainId: string, height: number, round: number, validRound: number, blockHash: Uint8Array): Uint8Array =>
  encodeCbor(['meterledger/proposal/v1', chainId, height, round, validRound, blockHash]);

export const voteBytesOf = (chainId: string, v: Omit<SignedVote, 'signature'>): Uint8Array =>
  voteSignBytes(chainId, v.t === 'prevote' ? VoteType.Prevote : VoteType.Precommit, v.height, v.round, v.blockHash);

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

const bad = (msg: string): ProtocolError => new ProtocolError('E_P2P_MALFORMED', msg);
const uint = (v: unknown, f: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${f} must be an unsigned integer`);
  return v;
};
const bytes = (v: unknown, f: string, len?: number): Uint8Array => {
  if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len)) throw bad(`${f} must be ${len ?? ''} bytes`);
  return v;
};
const str = (v: unknown, f: string): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) throw bad(`${f} must be a short string`);
  return v;
};

/** Decode a peer message; signatures are checked by the caller, which knows the keys. */
export function decodePeerMessage(b: Uint8Array): PeerMessage {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(b, PEER_LIMITS.message);
  } catch (cause) {
    throw new ProtocolError('E_P2P_MALFORMED', 'not deterministic CBOR', { cause });
  }
  if (!(m instanceof Map)) throw bad('message must be a map');
  const t = m.get('t');
  if (t === 'status') return { t, height: uint(m.get('height'), 'height') };
  if (t === 'proposal') {
    const blockBytes = bytes(m.get('block'), 'block');
    const block = decodeBlock(blockBytes, PEER_LIMITS.block);
    const validRound = m.get('validRound');
    if (typeof validRound !== 'number' || !Number.isSafeInteger(validRound) || validRound < -1) throw bad('validRound must be an integer >= -1');
    return {
      t, from: str(m.get('from'), 'from'), height: uint(m.get('height'), 'height'), round: uint(m.get('round'), 'round'), validRound,
      blockBytes, block, blockHash: headerHash(block.header), signature: bytes(m.get('signature'), 'signature', 64),
    };
  }
  if (t === 'prevote' || t === 'precommit') {
    const h = m.get('blockHash');
    return {
      t, from: str(m.get('from'), 'from'), height: uint(m.get('height'), 'height'), round: uint(m.get('round'), 'round'),
      blockHash: h === null ? null : bytes(h, 'blockHash', 32), signature: bytes(m.get('signature'), 'signature', 64),
    };
  }
  throw bad('unknown message type');
}

export const hashId = (h: Uint8Array | null): string | null => (h === null ? null : toHex(h));
export const idHash = (id: string | null): Uint8Array | null => (id === null ? null : fromHex(id));

/** A signed peer message as the core takes it; a vote keeps its signature (for commit certificates). */
export function toCoreMessage(m: SignedProposal | SignedVote): ConsensusMessage<BlockValue> {
  if (m.t === 'proposal') {
    return { type: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, valueId: toHex(m.blockHash), value: { block: m.block, bytes: m.blockBytes, id: toHex(m.blockHash) } };
  }
  return Object.assign({ type: m.t, from: m.from, height: m.height, round: m.round, valueId: hashId(m.blockHash) }, { signature: m.signature });
}

/** Most transactions one gossip batch may carry (the envelope's 8 MiB bounds it too). */
export const MAX_GOSSIP_BATCH = 10_000;

export const encodeTxBatch = (txs: readonly Uint8Array[]): Uint8Array => encodeCbor(txs);

/** A gossip batch: a non-empty array of transaction byte strings, in order. */
export function decodeTxBatch(b: Uint8Array): Uint8Array[] {
  const v = decodeCanonicalCbor(b, { maxItems: 1 + MAX_GOSSIP_BATCH, maxDepth: 2 });
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_GOSSIP_BATCH) throw bad(`gossip must be an array of 1..${MAX_GOSSIP_BATCH} transactions`);
  for (const t of v) if (!(t instanceof Uint8Array)) throw bad('every gossiped transaction must be a bstr');
  return v as Uint8Array[];
}

/** Sync: request and answer. */
export const encodeSyncRequest = (height: number): Uint8Array => encodeCbor({ t: 'block', height });
export function decodeSyncRequest(b: Uint8Array): number {
  const m = decodeCanonicalCbor(b, PEER_LIMITS.sync);
  if (!(m instanceof Map) || m.get('t') !== 'block') throw bad('not a block request');
  return uint(m.get('height'), 'height');
}
export const encodeSyncAnswer = (a: { block: Uint8Array; commit: Uint8Array } | undefined): Uint8Array =>
  encodeCbor(a ? { block: a.block, commit: a.commit } : { missing: true });
/** The block and commit come back checked against PEER_LIMITS, so decoding them next is bounded. */
export function decodeSyncAnswer(b: Uint8Array): { block: Uint8Array; commit: Uint8Array } | undefined {
  const m = decodeCanonicalCbor(b, PEER_LIMITS.sync);
  if (!(m instanceof Map)) throw bad('sync answer must be a map');
  if (m.get('missing') === true) return undefined;
  return {
    block: bounded(bytes(m.get('block'), 'block'), PEER_LIMITS.block, 'block'),
    commit: bounded(bytes(m.get('commit'), 'commit'), PEER_LIMITS.commit, 'commit'),
  };
}
