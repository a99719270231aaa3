/**
 * What consensus needs from the world, as small interfaces (cometbft's ticker, TigerBeetle's
 * simulated bus, storage and clock): time, signatures, its record on disk, the chain, the
 * wire. The node passes its real ones (node-consensus.ts); the simulation passes virtual
 * time, an in-memory record, a chain of test blocks and an adversarial network, and runs
 * the same runner. Nothing under consensus/ touches a timer, a clock, randomness, the file
 * system or the network but through these (.dependency-cruiser.cjs enforces it).
 */
import type { Block, BlockHeader, CommitCertificate } from '../../protocols/index.js';
import type { PeerMessage, SignedProposal, SignedVote } from '../../protocols/index.js';
import type { BlockValue } from './messages.js';
import type { StoredRecord } from './record.js';
import type { ConsensusMessage } from './types.js';

/**
 * Time: the clock (ms since the epoch: block times and clock-drift checks) and timers.
 * p2p's PeerClock is one (p2p/peers.ts systemClock); test/helpers/virtual-clock.ts another.
 */
export interface Scheduler {
  now(): number;
  /** Run `fn` once after `ms`; returns a cancel. */
  after(ms: number, fn: () => void): () => void;
}

export type SignedMessage = SignedProposal | SignedVote;

/** Our signatures on what we send, and the check of others' (Ed25519 over OpenSSL: ./signer.ts). */
export interface MessageSigner {
  sign(m: ConsensusMessage<BlockValue>): SignedMessage;
  /** Does the signature of `m.from` (a validator of the set of `m.height`) hold? */
  verify(m: SignedMessage): boolean;
  /** Why `commit` does not certify `header` for the validator set of its height, or undefined. */
  commitProblem(header: BlockHeader, commit: CommitCertificate): string | undefined;
}

/** The consensus record (./record.ts) where it is kept: the store, or memory. */
export interface ConsensusLog {
  load(height: number): Promise<StoredRecord>;
  /** One synced, atomic write of what is given. */
  save(height: number, w: {
    state?: Uint8Array;
    blocks?: readonly { hash: Uint8Array; bytes: Uint8Array }[];
    signed?: { round: number; type: string; bytes: Uint8Array };
  }): Promise<void>;
  /** Forget the records below `height`. */
  prune(height: number): Promise<void>;
}

/** The chain as consensus sees it: its head, getValue() and valid() of Algorithm 1, and the commit. */
export interface ChainPort {
  head(): { readonly height: number; readonly hash: Uint8Array; readonly time: number | undefined };
  /** A block for the next height (getValue()). */
  propose(height: number): BlockValue;
  /** Is this block valid on our head? (valid(); false for anything wrong, with the reason logged by the port.) */
  check(block: Block): Promise<boolean>;
  /** Store a block that `check` passed, with its certificate. Throws when the store refuses. */
  commit(block: Block, commit: CommitCertificate): Promise<void>;
  /** A committed block and certificate as stored, for a peer that asks (sync). */
  stored(height: number): Promise<{ block: Uint8Array; commit: Uint8Array } | undefined>;
}

/** Consensus messages out, to every peer: the node encodes and broadcasts them, the simulation delivers them. */
export type ConsensusWire = (m: PeerMessage) => void;
