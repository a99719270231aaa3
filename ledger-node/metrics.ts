/**
 * What the node reports, behind a small interface with a no-op default (cometbft style):
 * only gateway/ turns these calls into Prometheus metrics.
 */
import type { ReasonCode, Transport } from '../protocols/index.js';

export interface NodeMetrics {
  /** Readings (type 1, plain or sealed) handed to intake, and what became of them. */
  readingReceived(transport: Transport): void;
  readingAccepted(): void;
  readingRejected(code: ReasonCode): void;
  /**
   * Any other transaction handed to intake (a bill, payment, deposit, tariff, period key,
   * registration ...), by its type (undefined: it did not decode) and outcome.
   */
  transactionSubmitted(type: number | undefined, outcome: 'accepted' | ReasonCode): void;
  /** An accepted reading was dropped before its commit (a block made it invalid), by reason code. */
  readingDropped(code: ReasonCode): void;
  /** An accepted payment was dropped before its commit (a block made it invalid: paid, revoked mandate, funds ...), by reason code. */
  paymentDropped(code: ReasonCode): void;
  /** Signatures verified in one batch and how long the batch took. */
  signaturesVerified(count: number, seconds: number): void;
  /** From submit to durable accept, per reading. */
  acceptLatency(seconds: number): void;
  /** From durable accept to commit, per reading. */
  commitLatency(seconds: number): void;
  /** Accepted, not yet committed: how many and the oldest one's age. */
  backlog(count: number, oldestAgeSeconds: number): void;
  blockCommitted(height: number, txCount: number, bytes: number, intervalSeconds: number): void;
  /** Committed blocks whose receipts are not all handed to the bridges yet, and how many receipts those are. */
  receiptsWaiting(blocks: number, receipts: number): void;
  /** Bytes of the files of the store and the write-ahead (store/ and wal/). */
  storeSizeBytes(bytes: number): void;
  /** Bytes the gateway may still write on the file system holding the store. */
  storeFilesystemAvailBytes(bytes: number): void;
  /** Consensus: the round being run at the current height. */
  consensusRound(height: number, round: number): void;
  /** Consensus: a round timeout fired. */
  consensusTimeout(step: 'propose' | 'prevote' | 'precommit'): void;
  /** Consensus: a signed proposal or vote from a peer passed its checks. */
  consensusMessage(type: 'proposal' | 'prevote' | 'precommit'): void;
  /** Peers heard lately, and whether they with us hold more than 2/3 of the voting power. */
  peers(count: number, quorum: boolean): void;
  /** Sync: a block fetched from a peer was committed; `behind` blocks remain. */
  blockSynced(height: number, behind: number): void;
  /** A validator was caught signing two different messages for one step. */
  evidence(): void;
  /** True while this validator does not vote at the current height: its consensus record could not be restored. */
  consensusStateUnrestorable(yes: boolean): void;
  /** The committed height when the node opens (blockCommitted follows it afterwards). */
  chainHeight(height: number): void;
  /** The NATS connection went up or down. */
  natsConnected(up: boolean): void;
  /** A peer message was dropped (bad signature, unknown peer, too large, disconnected ...). */
  peerMessageDropped(reason: string): void;
}

export const noopMetrics: NodeMetrics = {
  readingReceived() {},
  readingAccepted() {},
  readingRejected() {},
  transactionSubmitted() {},
  readingDropped() {},
  paymentDropped() {},
  signaturesVerified() {},
  acceptLatency() {},
  commitLatency() {},
  backlog() {},
  blockCommitted() {},
  receiptsWaiting() {},
  storeSizeBytes() {},
  storeFilesystemAvailBytes() {},
  consensusRound() {},
  consensusTimeout() {},
  consensusMessage() {},
  peers() {},
  blockSynced() {},
  evidence() {},
  consensusStateUnrestorable() {},
  chainHeight() {},
  natsConnected() {},
  peerMessageDropped() {},
};
