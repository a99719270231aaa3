/** Codes of the peer-to-peer layer: the drop reason in logs and the metric label alike. */
import { CodedError, PeerWireCode } from '../../protocols/index.js';

export const P2pCode = {
  ...PeerWireCode,
  /** The sender is not a validator or observer of genesis (or is ourselves). */
  UNKNOWN_PEER: 'E_P2P_UNKNOWN_PEER',
  /** The signature does not verify with the sender's genesis key. */
  BAD_SIGNATURE: 'E_P2P_BAD_SIGNATURE',
  /** Signed for another chain. */
  WRONG_CHAIN: 'E_P2P_WRONG_CHAIN',
  /** Addressed to another peer, or a kind on a subject that does not carry it. */
  MISADDRESSED: 'E_P2P_MISADDRESSED',
  /** Dated outside the time window around our clock, or older than the replay cache remembers. */
  STALE: 'E_P2P_STALE',
  /** An envelope we have already taken (a replay, or a duplicate delivery). */
  REPLAY: 'E_P2P_REPLAY',
  /** A request got no valid answer in time. */
  TIMEOUT: 'E_P2P_TIMEOUT',
  /** Nobody listens on the request subject. */
  NO_RESPONDERS: 'E_P2P_NO_RESPONDERS',
  /** Not connected to any server right now. */
  DISCONNECTED: 'E_P2P_DISCONNECTED',
  /** The transport was closed. */
  CLOSED: 'E_P2P_CLOSED',
  /** The server refused our credentials. */
  AUTH: 'E_P2P_AUTH',
  /** We refused the server's certificate. */
  TLS: 'E_P2P_TLS',
  /** Bad options (ids, keys, URLs). */
  CONFIG: 'E_P2P_CONFIG',
} as const;
export type P2pCode = (typeof P2pCode)[keyof typeof P2pCode];

/** The reasons an inbound message is dropped for; the metric's label values, fixed in advance. */
export const P2P_DROP_REASONS: readonly P2pCode[] = [
  P2pCode.MALFORMED, P2pCode.TOO_LARGE, P2pCode.UNKNOWN_PEER, P2pCode.BAD_SIGNATURE, P2pCode.WRONG_CHAIN,
  P2pCode.MISADDRESSED, P2pCode.STALE, P2pCode.REPLAY, P2pCode.DISCONNECTED,
];

export class P2pError extends CodedError<P2pCode> {
  override readonly name = 'P2pError';
}
