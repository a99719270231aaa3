/**
 * The intake port: the one way device-facing adapters (bridge/mqtt, bridge/xmpp) hand
 * readings to the ledger and learn what became of them. bridge/ depends on this type
 * only; ledger-node implements it; gateway/ wires the two together.
 */
import type { ReasonCode } from './errors.js';
import type { Alg } from './keys.js';
import type { Receipt } from './receipt.js';

/** How a transaction arrived; 'peer' is gossip from another gateway of the chain. */
export type Transport = 'mqtt' | 'xmpp' | 'http' | 'peer';

export interface SubmitContext {
  /** The meter the transport authenticated (from the MQTT topic/session or XMPP binding). */
  readonly meterId: string;
  readonly transport: Transport;
  /** The XMPP bare JID of the sender, when the transport is XMPP. */
  readonly jid?: string;
  /**
   * 'payment': the device sent a payment it signed (MQTT `meters/<id>/payments`,
   * docs/protocol.md §8.7), not a reading; only a kid-less payment (type 16) of its own meter is taken.
   */
  readonly purpose?: 'payment';
}

export type SubmitResult =
  /** Durably accepted: written ahead and synced. It will be committed, across crashes. */
  | { readonly status: 'accepted'; readonly txHash: Uint8Array; readonly seq: bigint }
  /** Definitively refused; `code` is stable. BUSY and RATE_LIMITED mean "try again later". */
  | { readonly status: 'rejected'; readonly txHash: Uint8Array; readonly code: ReasonCode; readonly message: string; readonly seq?: bigint };

export interface CommittedReading {
  readonly meterId: string;
  readonly seq: bigint;
  readonly txHash: Uint8Array;
  readonly height: number;
  readonly receipt: Receipt;
}

/**
 * An accepted reading that can no longer be committed: a block took its meter past its seq
 * first (the meter sent through two gateways), or it became older than a block may hold
 * (docs/protocol.md §3.5). The meter is told with a rejection carrying `code`.
 */
export interface DroppedReading {
  readonly meterId: string;
  readonly seq: bigint;
  readonly txHash: Uint8Array;
  readonly code: ReasonCode;
  readonly message: string;
}

/** What an adapter may know of a meter to authenticate it. */
export interface MeterAuthInfo {
  readonly meterId: string;
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly revoked: boolean;
  /** XMPP bare JID this meter is bound to, if its registration says so. */
  readonly jid?: string;
}

export interface IntakePort {
  readonly chainId: string;
  /** Hand over reading bytes; resolves after durable accept or a definitive refusal. Never rejects. */
  submit(bytes: Uint8Array, ctx: SubmitContext): Promise<SubmitResult>;
  /** Current key and status of a meter, or undefined if no such meter is registered. */
  meterAuth(meterId: string): MeterAuthInfo | undefined;
  /**
   * Called once per committed reading, after its block is stored, and again when the same
   * reading is submitted after its commit (docs/protocol.md §3.8). Returns an unsubscribe.
   */
  onCommitted(listener: (c: CommittedReading) => void): () => void;
  /** Called for each accepted reading dropped before its commit (DroppedReading). Returns an unsubscribe. */
  onDropped(listener: (d: DroppedReading) => void): () => void;
}
