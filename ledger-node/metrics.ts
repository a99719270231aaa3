/**
 * What the node reports, behind a small interface with a no-op default (cometbft style):
 * only gateway/ turns these calls into Prometheus metrics.
 */
import type { ReasonCode, Transport } from '../protocols/index.js';

export interface NodeMetrics {
  readingReceived(transport: Transport): void;
  readingAccepted(): void;
  readingRejected(code: ReasonCode): void;
  /** Signatures verified in one batch and how long the batch took. */
  signaturesVerified(count: number, seconds: number): void;
  /** From submit to durable accept. */
  acceptLatency(seconds: number): void;
  /** From durable accept to commit, per reading. */
  commitLatency(seconds: number): void;
  /** Accepted, not yet committed: how many and the oldest one's age. */
  backlog(count: number, oldestAgeSeconds: number): void;
  blockCommitted(height: number, txCount: number, bytes: number, intervalSeconds: number): void;
  storeSizeBytes(bytes: number): void;
}

export const noopMetrics: NodeMetrics = {
  readingReceived() {},
  readingAccepted() {},
  readingRejected() {},
  signaturesVerified() {},
  acceptLatency() {},
  commitLatency() {},
  backlog() {},
  blockCommitted() {},
  storeSizeBytes() {},
};
