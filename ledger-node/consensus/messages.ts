/**
 * Consensus messages as the node holds them. Their wire formats (proposal, votes,
 * status, gossip batches, sync requests and answers), their sign bytes and the bounds
 * on decoding them are protocols/peer-messages.ts (docs/protocol.md §12.6-§12.9); this
 * file turns a decoded, signed message into what the core takes.
 */
import { type Block, type SignedProposal, type SignedVote, fromHex, toHex } from '../../protocols/index.js';
import type { ConsensusMessage } from './types.js';

/** A block as the core sees it: its id is the header hash, hex. */
export interface BlockValue {
  readonly block: Block;
  readonly bytes: Uint8Array;
  readonly id: string;
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
