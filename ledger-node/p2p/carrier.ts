/**
 * What carries peer envelopes: subjects and bytes, nothing more (nats.js's transport
 * split). It neither signs nor checks anything; the peer layer above it (./peers.ts)
 * does, the same over every carrier. Implementations: ./nats.ts (the network) and
 * ./memory.ts (in-process, for tests and simulation).
 */

/** Send one answer to the request being served. Throws P2pError when it cannot. */
export type Reply = (data: Uint8Array) => void;

export interface Carrier {
  /**
   * Send to every subscriber of `subject` but ourselves. Throws P2pError
   * E_P2P_DISCONNECTED, E_P2P_TOO_LARGE or E_P2P_CLOSED.
   */
  publish(subject: string, data: Uint8Array): void;
  /** Deliver what others publish on `subject` (for the carrier's lifetime, across reconnects). */
  subscribe(subject: string, onMessage: (data: Uint8Array, reply: Reply | undefined) => void): void;
  /**
   * Publish a request and hand every answer to `onAnswer` until the returned function is
   * called; `onNoResponders` when the carrier knows nobody listens. Throws like publish.
   */
  request(subject: string, data: Uint8Array, onAnswer: (data: Uint8Array) => void, onNoResponders: () => void): () => void;
  connected(): boolean;
  /** Called on every change of connected(). */
  onConnectionChange(listener: (up: boolean) => void): void;
  close(): Promise<void>;
}
