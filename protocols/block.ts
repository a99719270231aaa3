/**
 * Blocks, votes and commit certificates.
 *
 * Header (deterministic CBOR map, text keys):
 *   chainId tstr, height uint (1..), time uint (ms), prevHash bstr32 (block height-1's
 *   hash; the genesis hash for height 1), txRoot bstr32 (RFC 6962 MTH of the tx bytes),
 *   txCount uint, proposer tstr (validator id).
 * Block hash = SHA-256(encoded header). A block is committed by a CommitCertificate:
 * precommit signatures (Ed25519) over voteSignBytes from validators holding more than
 * two thirds of the voting power.
 */
import { type CborLimits, decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { equalBytes } from './bytes.js';
import { ProtocolError } from './errors.js';
import type { Genesis } from './genesis.js';
import { decodeKey } from './genesis.js';
import { sha256 } from './hash.js';
import { verifySignature } from './keys.js';
import { merkleRoot, merkleRootOfLeafHashes } from './merkle.js';

export interface BlockHeader {
  readonly chainId: string;
  readonly height: number;
  readonly time: number;
  readonly prevHash: Uint8Array;
  readonly txRoot: Uint8Array;
  readonly txCount: number;
  readonly proposer: string;
}

export interface Block {
  readonly header: BlockHeader;
  readonly txs: readonly Uint8Array[];
}

export const VoteType = { Prevote: 1, Precommit: 2 } as const;
export type VoteType = (typeof VoteType)[keyof typeof VoteType];

export interface CommitSignature {
  readonly validator: string;
  readonly signature: Uint8Array;
}

export interface CommitCertificate {
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array;
  readonly signatures: readonly CommitSignature[];
}

const bad = (msg: string): ProtocolError => new ProtocolError('E_BLOCK_MALFORMED', msg);

export function encodeHeader(h: BlockHeader): Uint8Array {
  return encodeCbor({
    chainId: h.chainId, height: h.height, time: h.time, prevHash: h.prevHash,
    txRoot: h.txRoot, txCount: h.txCount, proposer: h.proposer,
  });
}

export const headerHash = (h: BlockHeader): Uint8Array => sha256(encodeHeader(h));

function field<T>(m: Map<unknown, unknown>, k: string, ok: (v: unknown) => v is T): T {
  const v = m.get(k);
  if (!ok(v)) throw bad(`header.${k} missing or of the wrong type`);
  return v;
}
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHash = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** A header is a map of 7 scalars: nothing bigger is a header, wherever it comes from. */
const HEADER_LIMITS: CborLimits = { maxItems: 15, maxDepth: 2 };

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes, HEADER_LIMITS);
  } catch (cause) {
    throw new ProtocolError('E_BLOCK_MALFORMED', `header is not deterministic CBOR`, { cause });
  }
  if (!(m instanceof Map) || m.size !== 7) throw bad('header must be a map of 7 fields');
  return {
    chainId: field(m, 'chainId', isStr),
    height: field(m, 'height', isUint),
    time: field(m, 'time', isUint),
    prevHash: field(m, 'prevHash', isHash),
    txRoot: field(m, 'txRoot', isHash),
    txCount: field(m, 'txCount', isUint),
    proposer: field(m, 'proposer', isStr),
  };
}

/** Block bytes: CBOR [encoded header (bstr), [tx bstr ...]]. */
export function encodeBlock(b: Block): Uint8Array {
  return encodeCbor([encodeHeader(b.header), b.txs]);
}

/** `limits` bound the decode of a block from others (2 + its txs + 1 items, depth 3). */
export function decodeBlock(bytes: Uint8Array, limits?: CborLimits): Block {
  let v: unknown;
  try {
    v = decodeCanonicalCbor(bytes, limits);
  } catch (cause) {
    throw new ProtocolError('E_BLOCK_MALFORMED', 'block is not deterministic CBOR', { cause });
  }
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] instanceof Uint8Array) || !Array.isArray(v[1])) throw bad('block must be [header, txs]');
  const txs = v[1] as unknown[];
  if (!txs.every((t): t is Uint8Array => t instanceof Uint8Array)) throw bad('every tx must be a bstr');
  return { header: decodeHeader(v[0]), txs };
}

/** Build a header over `txs` (computes txRoot and txCount); `leafHashes`, if given, are their leafHash in order. */
export function makeHeader(fields: Omit<BlockHeader, 'txRoot' | 'txCount'>, txs: readonly Uint8Array[], leafHashes?: readonly Uint8Array[]): BlockHeader {
  if (leafHashes !== undefined && leafHashes.length !== txs.length) throw new RangeError(`${leafHashes.length} leaf hashes for ${txs.length} transactions`);
  return { ...fields, txRoot: leafHashes ? merkleRootOfLeafHashes(leafHashes) : merkleRoot(txs), txCount: txs.length };
}

/** The bytes a validator signs for a vote. `blockHash` null is a vote for nil. */
export function voteSignBytes(chainId: string, type: VoteType, height: number, round: number, blockHash: Uint8Array | null): Uint8Array {
  return encodeCbor(['meterledger/vote/v1', chainId, type, height, round, blockHash]);
}

export function encodeCommit(c: CommitCertificate): Uint8Array {
  return encodeCbor(commitToCbor(c));
}

export function commitToCbor(c: CommitCertificate): unknown {
  return {
    height: c.height, round: c.round, blockHash: c.blockHash,
    signatures: c.signatures.map((s) => ({ validator: s.validator, signature: s.signature })),
  };
}

/** Exactly these keys, no others (one encoding per certificate: docs/protocol.md §5). */
function onlyKeys(m: Map<unknown, unknown>, keys: readonly string[], what: string): void {
  for (const k of m.keys()) if (typeof k !== 'string' || !keys.includes(k)) throw bad(`${what} has an unknown field ${JSON.stringify(String(k))}`);
}

export function commitFromCbor(v: unknown): CommitCertificate {
  if (!(v instanceof Map)) throw bad('commit must be a map');
  onlyKeys(v, ['height', 'round', 'blockHash', 'signatures'], 'commit');
  const sigs = v.get('signatures');
  if (!Array.isArray(sigs)) throw bad('commit.signatures must be an array');
  return {
    height: field(v, 'height', isUint),
    round: field(v, 'round', isUint),
    blockHash: field(v, 'blockHash', isHash),
    signatures: sigs.map((s: unknown) => {
      if (!(s instanceof Map)) throw bad('commit signature must be a map');
      onlyKeys(s, ['validator', 'signature'], 'commit signature');
      return {
        validator: field(s, 'validator', isStr),
        signature: field(s, 'signature', (x): x is Uint8Array => x instanceof Uint8Array && x.length === 64),
      };
    }),
  };
}

/** `limits` bound the decode of a commit from others (10 + 5 per signature items, depth 3). */
export function decodeCommit(bytes: Uint8Array, limits?: CborLimits): CommitCertificate {
  try {
    return commitFromCbor(decodeCanonicalCbor(bytes, limits));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError('E_BLOCK_MALFORMED', 'commit is not deterministic CBOR', { cause: e });
  }
}

/**
 * Check a commit certificate for `header` against the genesis validator set: distinct
 * known validators, valid precommit signatures, more than 2/3 of the total power.
 * Every entry must be good (docs/protocol.md §5): a duplicate, an unknown validator or
 * a bad signature spoils the certificate even when the others hold a quorum, so that all
 * verifiers agree whatever order they check in or when they stop.
 * Returns undefined when valid, else the reason. `verify` checks one precommit signature
 * of a genesis validator over its sign bytes: noble by default; the node passes its
 * OpenSSL one, so that live votes and synced certificates are checked by one verifier.
 */
export function commitProblem(
  genesis: Pick<Genesis, 'chainId' | 'validators'>, header: BlockHeader, c: CommitCertificate,
  verify: (validator: Genesis['validators'][number], msg: Uint8Array, signature: Uint8Array) => boolean = verifyGenesisKey,
): string | undefined {
  if (c.height !== header.height) return `commit is for height ${c.height}, header is ${header.height}`;
  if (!equalBytes(c.blockHash, headerHash(header))) return 'commit is for another block hash';
  const total = genesis.validators.reduce((s, v) => s + v.power, 0);
  const seen = new Set<string>();
  let power = 0;
  const msg = voteSignBytes(genesis.chainId, VoteType.Precommit, c.height, c.round, c.blockHash);
  for (const s of c.signatures) {
    const v = genesis.validators.find((x) => x.id === s.validator);
    if (!v) return `commit signed by unknown validator "${s.validator}"`;
    if (seen.has(s.validator)) return `validator "${s.validator}" signed twice`;
    seen.add(s.validator);
    if (!verify(v, msg, s.signature)) return `bad precommit signature from "${s.validator}"`;
    power += v.power;
  }
  if (power * 3 <= total * 2) return `commit has ${power} of ${total} voting power, needs more than two thirds`;
  return undefined;
}

function verifyGenesisKey(v: Genesis['validators'][number], msg: Uint8Array, signature: Uint8Array): boolean {
  const k = decodeKey(v);
  return verifySignature(k.alg, k.publicKey, msg, signature);
}
