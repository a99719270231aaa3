/**
 * What an account owner signs to open an HTTP session (docs/http-api.md §Sessions): the
 * bytes are text, so a browser (WebCrypto) or firmware builds them without a CBOR library.
 * Pure and browser-safe: the portal imports it.
 */
import { CHAIN_ID_PATTERN } from './genesis.js';
import { METER_ID_PATTERN } from './payload.js';

/** Domain tag: these bytes can never be a COSE Sig_structure (a CBOR array) nor a vote. */
export const SESSION_DOMAIN = 'meterledger-session-v1';
/** A challenge is 32 random bytes, sent as 64 lowercase hex digits. */
export const SESSION_CHALLENGE_PATTERN = /^[0-9a-f]{64}$/;

/**
 * UTF-8 of `meterledger-session-v1 LF chainId LF account LF challenge` (LF = 0x0a, no
 * trailing LF). Every part is ASCII without LF (their patterns), so the split is unique.
 */
export function sessionSignBytes(chainId: string, account: string, challenge: string): Uint8Array {
  if (!CHAIN_ID_PATTERN.test(chainId)) throw new TypeError('chainId: not a chain id');
  if (!METER_ID_PATTERN.test(account)) throw new TypeError('account: not an account id');
  if (!SESSION_CHALLENGE_PATTERN.test(challenge)) throw new TypeError('challenge: must be 64 lowercase hex digits');
  return new TextEncoder().encode(`${SESSION_DOMAIN}\n${chainId}\n${account}\n${challenge}`);
}
