/**
 * The one interface the node uses to talk to peers (cometbft's "reactor" edge): signed
 * envelopes broadcast to the chain's peers, and request/reply for block sync. The peer
 * layer (./peers.ts) implements it over any carrier (./carrier.ts: NATS, or in-memory
 * for tests): a carrier only moves bytes, and every envelope is signed by the sending
 * node's Ed25519 key and checked against the keys of genesis, so whoever runs the NATS
 * servers can drop or delay messages but not forge or replay them.
 *
 * (Named PeerTransport, not Transport: protocols/intake.ts's Transport is the path a
 * reading came by, 'mqtt' | 'xmpp' | 'http' | 'peer'.)
 */
import type { KeyObject } from 'node:crypto';

export type BroadcastKind = 'consensus' | 'tx';

export interface PeerKey {
  readonly id: string;
  /** Raw Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
}

export interface PeerTransport {
  /** This node's id (its validator or observer id in genesis). */
  readonly nodeId: string;
  /** Sign and send to every peer of the chain (not to ourselves). Best effort: a failure is counted, not thrown. */
  broadcast(kind: BroadcastKind, payload: Uint8Array): void;
  /** Envelopes that passed every check (known peer, signature, time, not a replay). */
  onMessage(handler: (from: string, kind: BroadcastKind, payload: Uint8Array) => void): void;
  /** Ask one peer (or, with `to` undefined, whichever answers first); rejects on timeout. */
  request(to: string | undefined, payload: Uint8Array, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }>;
  /** Answer peers' requests. */
  onRequest(handler: (from: string, payload: Uint8Array) => Promise<Uint8Array>): void;
  /** Peers whose fresh, authenticated, non-replayed envelopes reached us within the last `withinMs` (default 10 s). */
  peers(withinMs?: number): string[];
  /** The chain's peers changed (a validator-set change): authenticate with these keys from now on. */
  setPeers?(peers: readonly PeerKey[]): void;
  /** Our node key was rotated: seal with this one from now on. */
  setNodeKey?(key: KeyObject): void;
  /** Connection state, for readiness and metrics. */
  connected(): boolean;
  close(): Promise<void>;
}
