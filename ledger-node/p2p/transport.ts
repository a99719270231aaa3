/**
 * The one interface the node uses to talk to peers (cometbft's "reactor" edge): signed
 * envelopes broadcast to the chain's peers, and request/reply for block sync. The NATS
 * adapter (./nats.ts) implements it; tests may use an in-memory one. NATS only carries
 * bytes: every envelope is signed by the sending node's Ed25519 key and checked against
 * the keys of genesis, so whoever runs the NATS servers can drop or delay messages but
 * not forge them.
 */

export type BroadcastKind = 'consensus' | 'tx';

export interface PeerKey {
  readonly id: string;
  /** Raw Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
}

export interface Transport {
  /** This node's id (its validator or observer id in genesis). */
  readonly nodeId: string;
  /** Sign and send to every peer of the chain (not to ourselves). */
  broadcast(kind: BroadcastKind, payload: Uint8Array): void;
  /** Envelopes whose signature checked out, from known peers only. */
  onMessage(handler: (from: string, kind: BroadcastKind, payload: Uint8Array) => void): void;
  /** Ask one peer (or, with `to` undefined, whichever answers first); rejects on timeout. */
  request(to: string | undefined, payload: Uint8Array, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }>;
  /** Answer peers' requests. */
  onRequest(handler: (from: string, payload: Uint8Array) => Promise<Uint8Array>): void;
  /** Peers heard from within the last `withinMs`. */
  peers(withinMs?: number): string[];
  /** Connection state, for readiness and metrics. */
  connected(): boolean;
  close(): Promise<void>;
}
