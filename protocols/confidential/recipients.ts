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

/** At most this many recipient keys per meter (owner, biller, auditors): as period-key.ts MAX_RECIPIENTS. */
const MAX_REGISTERED_RECIPIENTS = 8;

/**
 * The recipient keys of a confidential meter's registration (label 16, docs/protocol.md
 * §11.2): an array of 1-8 `[id tstr, kem uint, publicKey bstr]`, sorted by id (bytewise),
 * no duplicates, each a usable key. Anything else is E_CONF_MALFORMED, field recipients.
 */
export function recipientKeysFrom(v: unknown): RecipientKey[] {
  const bad = (msg: string): never => {
    throw new RejectionError(ReasonCode.CONF_MALFORMED, `recipients (label 16): ${msg}`, 'recipients');
  };
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_REGISTERED_RECIPIENTS) bad(`must be an array of 1..${MAX_REGISTERED_RECIPIENTS} recipient keys`);
  const keys = (v as unknown[]).map((e, i): RecipientKey => {
    if (!Array.isArray(e) || e.length !== 3) bad(`entry ${i} must be [id, kem, publicKey]`);
    const [id, kem, publicKey] = e as unknown[];
    if (typeof id !== 'string' || typeof kem !== 'number' || !(publicKey instanceof Uint8Array)) bad(`entry ${i} must be [tstr, uint, bstr]`);
    const k = { id, kem, publicKey } as RecipientKey;
    const problem = recipientKeyProblem(k);
    if (problem) bad(`${String(id)}: ${problem}`);
    return k;
  });
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i - 1]!.id < keys[i]!.id)) bad('must be sorted by id, without duplicates'); // ASCII ids: code-unit order is byte order
  }
  return keys;
}
