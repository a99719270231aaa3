/**
 * Recipient keys (docs/protocol.md §11.2): the encryption keys period keys are wrapped to.
 * An encryption key is never a signing key: it has its own id, chosen by its holder at
 * registration, conventionally `<holder>/<name>` ("john/enc-1", "biller-1/enc-2026"),
 * so a holder can rotate it (a new id) while older periods stay wrapped to the old one.
 */
import { ReasonCode, RejectionError } from '../errors.js';
import { type Kem, isKem, kemPublicKeyProblem } from './hpke.js';

export const RECIPIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

/** A registered encryption key: its id, its KEM (RFC 9180 §7.1) and its serialized public key. */
export interface RecipientKey {
  readonly id: string;
  readonly kem: Kem;
  /** 32 bytes for X25519; the 65-byte uncompressed point for P-256 (WebCrypto's raw export). */
  readonly publicKey: Uint8Array;
}

/** Why this recipient key cannot be registered, or undefined. */
export function recipientKeyProblem(k: RecipientKey): string | undefined {
  if (!RECIPIENT_ID_PATTERN.test(k.id)) return 'recipient id must match [A-Za-z0-9][A-Za-z0-9._:/-]{0,63}';
  if (!isKem(k.kem)) return 'kem must be 32 (DHKEM X25519) or 16 (DHKEM P-256)';
  return kemPublicKeyProblem(k.kem, k.publicKey);
}

/** Refuse an unusable recipient key with E_CONF_MALFORMED. */
export function checkRecipientKey(k: RecipientKey): void {
  const problem = recipientKeyProblem(k);
  if (problem) throw new RejectionError(ReasonCode.CONF_MALFORMED, `recipient key ${k.id}: ${problem}`, 'recipient');
}
