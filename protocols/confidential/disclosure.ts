/**
 * Selective disclosure (docs/protocol.md §11.7): the content key of one sealed reading,
 * named by its meter and seq. It opens that reading and no other: content keys are
 * HKDF-Expand outputs of the period key's PRK, one per (meterId, seq, time), and none
 * says anything about the PRK or its siblings.
 *
 *   Disclosure = [ meterId: tstr, seq: uint, contentKey: bstr 32 ]
 *
 * A validator checks it against the committed reading without any other key: the
 * content key's commitment must be the reading's kid (E_CONF_BAD_DISCLOSURE_KEY, before
 * decrypting), then AES-GCM must authenticate (E_CONF_AUTH_FAILED).
 */
import { decodeCanonicalCbor, encodeCbor } from '../cbor.js';
import { equalBytes } from '../bytes.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { METER_ID_PATTERN } from '../payload.js';
import type { Reading } from '../reading.js';
import { CONTENT_KEY_BYTES, type PeriodKeySchedule, contentKeyOf, keyCommitmentOf } from './schedule.js';
import { type SealedReading, openSealedReading } from './sealed-reading.js';

export interface Disclosure {
  readonly meterId: string;
  readonly seq: bigint;
  readonly contentKey: Uint8Array;
}

const malformed = (msg: string, field: string): RejectionError => new RejectionError(ReasonCode.CONF_MALFORMED, msg, field);

/** The CBOR value of a disclosure (for embedding in a bill). */
export function disclosureToCbor(d: Disclosure): unknown[] {
  return [d.meterId, d.seq, d.contentKey];
}

export function encodeDisclosure(d: Disclosure): Uint8Array {
  return encodeCbor(disclosureToCbor(d));
}

/** A disclosure from its decoded CBOR value; E_CONF_MALFORMED naming the field otherwise. */
export function disclosureFromCbor(v: unknown): Disclosure {
  if (!Array.isArray(v) || v.length !== 3) throw malformed('a disclosure is [meterId, seq, contentKey]', 'disclosure');
  const [meterId, seq, contentKey] = v as unknown[];
  if (typeof meterId !== 'string' || !METER_ID_PATTERN.test(meterId)) throw malformed('disclosure meterId must match the meter id pattern', 'meterId');
  if ((typeof seq !== 'number' && typeof seq !== 'bigint') || seq < 1 || (typeof seq === 'number' && !Number.isSafeInteger(seq))) {
    throw malformed('disclosure seq must be an unsigned integer from 1 to 2^64-1', 'seq');
  }
  if (!(contentKey instanceof Uint8Array) || contentKey.length !== CONTENT_KEY_BYTES) throw malformed(`disclosure contentKey must be a bstr of ${CONTENT_KEY_BYTES} bytes`, 'contentKey');
  return { meterId, seq: BigInt(seq), contentKey };
}

export function decodeDisclosure(bytes: Uint8Array): Disclosure {
  let v: unknown;
  try {
    v = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new RejectionError(ReasonCode.CONF_MALFORMED, `disclosure is not deterministic CBOR: ${(cause as Error).message}`, 'disclosure', { cause });
  }
  return disclosureFromCbor(v);
}

/**
 * Disclose one reading (a recipient, e.g. the biller making a bill): its content key,
 * refusing to disclose a reading the period key did not seal (E_CONF_KEY_MISMATCH).
 */
export function discloseReading(schedule: PeriodKeySchedule, r: SealedReading): Disclosure {
  if (r.meterId !== schedule.meterId || !equalBytes(r.sealed.keyId, schedule.keyId)) {
    throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `${r.meterId} seq ${r.seq} is not sealed under this period key`, 'kidContext');
  }
  const contentKey = contentKeyOf(schedule, r.seq, r.time);
  if (!equalBytes(keyCommitmentOf(contentKey), r.sealed.keyCommitment)) {
    throw new RejectionError(ReasonCode.CONF_KEY_MISMATCH, `${r.meterId} seq ${r.seq} commits to a key the period key does not give`, 'kid');
  }
  return { meterId: r.meterId, seq: r.seq, contentKey };
}

/** Verify a disclosure against its committed reading and return the reading's clear values. */
export function verifyDisclosure(chainId: string, r: SealedReading, d: Disclosure): Reading {
  if (d.meterId !== r.meterId || d.seq !== r.seq) {
    throw new RejectionError(ReasonCode.CONF_BAD_DISCLOSURE_KEY, `disclosure of ${d.meterId} seq ${d.seq} checked against ${r.meterId} seq ${r.seq}`, 'seq');
  }
  return openSealedReading(chainId, r, d.contentKey);
}
