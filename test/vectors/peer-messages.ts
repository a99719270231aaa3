/**
 * peer-messages.json: the payloads of docs/protocol.md §12.6-§12.9, between the validators
 * of block.json (their secret keys are there). Block 1 of block.json is the block proposed
 * and voted for; val-2's precommit is the very signature its commit certificate holds.
 * Then payloads a receiver must refuse, each with its code.
 */
import {
  Alg, type Block, type CommitCertificate, type PeerMessage, concatBytes, encodeBlock, encodeCbor, encodeCommit, encodePeerMessage, encodeSyncAnswer,
  encodeSyncRequest, encodeTxBatch, headerHash, proposalSignBytes, signMessage, toHex, voteBytesOf,
} from '../../protocols/index.js';
import { CHAIN_ID, seed } from './fixed.js';

/** What this file takes from generate.ts (passed in: generate.ts imports this file). */
export interface FromBlockVectors {
  /** Block 1 of block.json and its commit certificate. */
  readonly testBlock: () => { header: Block['header']; txs: Uint8Array[]; commit: CommitCertificate };
}

const hex = toHex;

/** A CBOR array head (major type 4) of `n` items, then `n` copies of the one-byte item `item`. */
function arrayOf(n: number, item: number): Uint8Array {
  const head = n < 24 ? [0x80 + n] : n < 256 ? [0x98, n] : n < 65536 ? [0x99, n >> 8, n & 0xff] : [0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return concatBytes(new Uint8Array(head), new Uint8Array(n).fill(item));
}

export function buildPeerMessages(from: FromBlockVectors): unknown {
  const { header, txs, commit } = from.testBlock();
  const block: Block = { header, txs };
  const blockBytes = encodeBlock(block);
  const blockHash = headerHash(header);
  const commitBytes = encodeCommit(commit);
  const sign = (id: string, bytes: Uint8Array): Uint8Array => signMessage(Alg.EdDSA, seed(id), bytes);

  const proposal = (name: string, id: string, round: number, validRound: number) => {
    const signBytes = proposalSignBytes(CHAIN_ID, 1, round, validRound, blockHash);
    const signature = sign(id, signBytes);
    const m: PeerMessage = { t: 'proposal', from: id, height: 1, round, validRound, blockBytes, block, blockHash, signature };
    return { name, message: { t: 'proposal', from: id, height: 1, round, validRound, block: hex(blockBytes), signature: hex(signature) }, blockHash: hex(blockHash), signBytes: hex(signBytes), payload: hex(encodePeerMessage(m)) };
  };
  const vote = (name: string, t: 'prevote' | 'precommit', id: string, round: number, hash: Uint8Array | null) => {
    const v = { t, from: id, height: 1, round, blockHash: hash } as const;
    const signBytes = voteBytesOf(CHAIN_ID, v);
    const signature = sign(id, signBytes);
    return { name, message: { t, from: id, height: 1, round, blockHash: hash === null ? null : hex(hash), signature: hex(signature) }, signBytes: hex(signBytes), payload: hex(encodePeerMessage({ ...v, signature })) };
  };

  const goodSignature = sign('val-1', proposalSignBytes(CHAIN_ID, 1, 0, -1, blockHash));
  /** val-1's proposal of round 0 as a map, with fields changed, added or dropped. */
  const withField = (changes: Record<string, unknown>, drop?: string): Uint8Array => {
    const m: Record<string, unknown> = { t: 'proposal', from: 'val-1', height: 1, round: 0, validRound: -1, block: blockBytes, signature: goodSignature, ...changes };
    if (drop) delete m[drop];
    return encodeCbor(m);
  };
  const prevoteBytes = (changes: Record<string, unknown>): Uint8Array =>
    encodeCbor({ t: 'prevote', from: 'val-2', height: 1, round: 0, blockHash, signature: new Uint8Array(64), ...changes });

  return {
    description: 'Payloads of peer envelopes (docs/protocol.md §12.6-§12.9) between the validators of block.json (their keys: validatorSecretKeys there), about its block 1. `signBytes` is what `message.from` signs with its node key (Ed25519). `refuse` lists payloads a receiver drops, with the kind of envelope they came in (`kind`) and the code.',
    chainId: CHAIN_ID,
    limits: { message: { maxItems: 16, maxDepth: 2 }, block: { maxItems: 3 + 2 ** 17, maxDepth: 3 }, commit: { maxItems: 10 + 5 * 2 ** 12, maxDepth: 4 }, sync: { maxItems: 5, maxDepth: 2 }, gossip: { maxItems: 10_001, maxDepth: 2 } },
    consensus: [
      proposal('proposal of block 1 by val-1, round 0, fresh (validRound -1)', 'val-1', 0, -1),
      proposal('the same block proposed again by val-2 in round 1 with validRound 0', 'val-2', 1, 0),
      vote('prevote for block 1 by val-2', 'prevote', 'val-2', 0, blockHash),
      vote('prevote for nil by val-3, round 1', 'prevote', 'val-3', 1, null),
      vote('precommit for block 1 by val-2 (its signature is the one in block.json\'s commit)', 'precommit', 'val-2', 0, blockHash),
      { name: 'status: committed height 7', message: { t: 'status', height: 7 }, payload: hex(encodePeerMessage({ t: 'status', height: 7 })) },
    ],
    gossip: { name: 'two transactions (readings.json cases 0 and 1), in accept order', txs: txs.slice(0, 2).map(hex), payload: hex(encodeTxBatch(txs.slice(0, 2))) },
    sync: {
      request: { name: 'the block of height 1', height: 1, payload: hex(encodeSyncRequest(1)) },
      answer: { name: 'block 1 and its commit certificate', block: hex(blockBytes), commit: hex(commitBytes), payload: hex(encodeSyncAnswer({ block: blockBytes, commit: commitBytes })) },
      missing: { name: 'the block is not stored here', payload: hex(encodeSyncAnswer(undefined)) },
    },
    badSignature: [
      { name: 'prevote signed by val-3 in the name of val-2', code: 'E_P2P_BAD_SIGNATURE', payload: hex(encodePeerMessage({ t: 'prevote', from: 'val-2', height: 1, round: 0, blockHash, signature: sign('val-3', voteBytesOf(CHAIN_ID, { t: 'prevote', from: 'val-2', height: 1, round: 0, blockHash })) })) },
      { name: 'proposal whose signature is over round 1 while the message says round 0', code: 'E_P2P_BAD_SIGNATURE', payload: hex(encodePeerMessage({ t: 'proposal', from: 'val-1', height: 1, round: 0, validRound: -1, blockBytes, block, blockHash, signature: sign('val-1', proposalSignBytes(CHAIN_ID, 1, 1, -1, blockHash)) })) },
    ],
    refuse: [
      { kind: 'consensus', name: 'a status with an extra field "note"', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'status', height: 7, note: 'x' })) },
      { kind: 'consensus', name: 'a prevote with an extra field "validRound"', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ validRound: -1 })) },
      { kind: 'consensus', name: 'a proposal without validRound', code: 'E_P2P_MALFORMED', payload: hex(withField({}, 'validRound')) },
      { kind: 'consensus', name: 'unknown t "vote"', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ t: 'vote' })) },
      { kind: 'consensus', name: 'a CBOR array, not a map', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor(['prevote', 'val-2', 1, 0, blockHash, new Uint8Array(64)])) },
      { kind: 'consensus', name: 'not deterministic: height 1 in two bytes (0x1801)', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'status', height: 0x17 })).replace(/17$/, '1801') },
      { kind: 'consensus', name: 'height 2^53 (above the safe range)', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'status', height: 2n ** 53n })) },
      { kind: 'consensus', name: 'height -1', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'status', height: -1 })) },
      { kind: 'consensus', name: 'validRound -2', code: 'E_P2P_MALFORMED', payload: hex(withField({ validRound: -2 })) },
      { kind: 'consensus', name: 'a signature of 63 bytes', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ signature: new Uint8Array(63) })) },
      { kind: 'consensus', name: 'a blockHash of 31 bytes', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ blockHash: blockHash.subarray(1) })) },
      { kind: 'consensus', name: 'from "val 2" (not a node id)', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ from: 'val 2' })) },
      { kind: 'consensus', name: 'a map of 9 entries (19 items: over 16)', code: 'E_P2P_MALFORMED', payload: hex(prevoteBytes({ a: 0, b: 0, c: 0 })) },
      { kind: 'consensus', name: 'a proposal whose block is not block bytes', code: 'E_BLOCK_MALFORMED', payload: hex(withField({ block: encodeCbor(['not', 'a block']) })) },
      { kind: 'consensus', name: 'a proposal whose block nests 4 deep', code: 'E_BLOCK_MALFORMED', payload: hex(withField({ block: encodeCbor([new Uint8Array(0), [[[]]]]) })) },
      { kind: 'tx', name: 'an empty batch', code: 'E_P2P_MALFORMED', payload: hex(encodeTxBatch([])) },
      { kind: 'tx', name: 'a transaction that is a text string', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor([txs[0]!, 'tx'])) },
      { kind: 'tx', name: '10,001 empty transactions', code: 'E_P2P_MALFORMED', payload: hex(arrayOf(10_001, 0x40)) },
      { kind: 'sync-req', name: 't "blocks"', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'blocks', height: 1 })) },
      { kind: 'sync-req', name: 'an extra field "count" (7 items: over 5)', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ t: 'block', height: 1, count: 10 })) },
      { kind: 'sync-res', name: 'missing: false', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ missing: false })) },
      { kind: 'sync-res', name: 'missing and a block', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ missing: true, block: blockBytes })) },
      { kind: 'sync-res', name: 'a block without its commit', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ block: blockBytes })) },
      { kind: 'sync-res', name: 'a commit nested 5 deep', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ block: blockBytes, commit: encodeCbor([[[[[]]]]]) })) },
      { kind: 'sync-res', name: 'a block nested 4 deep', code: 'E_P2P_MALFORMED', payload: hex(encodeCbor({ block: encodeCbor([new Uint8Array(0), [[[]]]]), commit: commitBytes })) },
    ],
    note: 'A sync answer travels after the 32-byte id of its request in a sync-res envelope (§12.2); the payloads here are the answer alone.',
  };
}
