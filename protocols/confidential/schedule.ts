/**
 * The key schedule of confidential readings (docs/protocol.md §11.3), HKDF-SHA256
 * (RFC 5869) throughout. Every info string is the deterministic CBOR of an array whose
 * first element names the use, so no two derivations can collide:
 *
 *   prk        = HKDF-Extract(salt = "meterledger/confidential/v1", IKM = period key)
 *   keyId      = HKDF-Expand(prk, ["meterledger/confidential/v1/key-id", meterId, period], 16)
 *   contentKey = HKDF-Expand(prk, ["meterledger/confidential/v1/content-key", meterId, seq, time], 32)
 *   aeadKey    = HKDF-Expand(contentKey, ["meterledger/confidential/v1/aead-key"], 32)
 *   commitment = HKDF-Expand(contentKey, ["meterledger/confidential/v1/key-commitment"], 32)
 *   iv         = 00000000 || uint64be(seq)
 *
 * The content key is what a disclosure reveals: it opens its one reading (aeadKey) and
 * is checked against the reading's commitment without decrypting. From it nothing about
 * the period key or another reading's key can be computed (HKDF-Expand is a PRF of prk).
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeCbor } from '../cbor.js';
import { utf8 } from '../bytes.js';

export const CONFIDENTIAL_V1 = 'meterledger/confidential/v1';
export const PERIOD_KEY_BYTES = 32;
export const CONTENT_KEY_BYTES = 32;
export const KEY_ID_BYTES = 16;
export const KEY_COMMITMENT_BYTES = 32;
export const IV_BYTES = 12;
/** A period id: chosen by the caller (e.g. "2026-11"), 1..32 characters. */
export const PERIOD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/;

/** Where fresh random bytes come from; injected so pure code stays deterministic. */
export type RandomSource = (length: number) => Uint8Array;

const info = (use: string, ...fields: unknown[]): Uint8Array => encodeCbor([`${CONFIDENTIAL_V1}/${use}`, ...fields]);
const SALT = utf8(CONFIDENTIAL_V1);

/** A period key made ready for use: its PRK and id, bound to one meter and period. */
export interface PeriodKeySchedule {
  readonly meterId: string;
  readonly period: string;
  readonly prk: Uint8Array;
  readonly keyId: Uint8Array;
}

/** A fresh period key (32 bytes) from the injected random source. */
export function newPeriodKey(random: RandomSource): Uint8Array {
  const k = random(PERIOD_KEY_BYTES);
  if (k.length !== PERIOD_KEY_BYTES) throw new TypeError(`the random source gave ${k.length} bytes, not ${PERIOD_KEY_BYTES}`);
  return k;
}

export function periodKeySchedule(periodKey: Uint8Array, meterId: string, period: string): PeriodKeySchedule {
  if (periodKey.length !== PERIOD_KEY_BYTES) throw new TypeError(`a period key is ${PERIOD_KEY_BYTES} bytes`);
  const prk = extract(sha256, periodKey, SALT);
  return { meterId, period, prk, keyId: expand(sha256, prk, info('key-id', meterId, period), KEY_ID_BYTES) };
}

/** The content key of one reading (the disclosed secret). `time` is in it so a re-made reading gets a new key. */
export function contentKeyOf(schedule: PeriodKeySchedule, seq: bigint, time: number): Uint8Array {
  return expand(sha256, schedule.prk, info('content-key', schedule.meterId, seq, time), CONTENT_KEY_BYTES);
}

/** The AES-256-GCM key of a reading, from its content key. */
export function aeadKeyOf(contentKey: Uint8Array): Uint8Array {
  return expand(sha256, contentKey, info('aead-key'), 32);
}

/** The reading's commitment to its content key (its COSE kid): binding, and reveals nothing of the key. */
export function keyCommitmentOf(contentKey: Uint8Array): Uint8Array {
  return expand(sha256, contentKey, info('key-commitment'), KEY_COMMITMENT_BYTES);
}

/** The AES-GCM nonce of reading `seq`: 4 zero bytes, then seq as a big-endian uint64. */
export function readingIv(seq: bigint): Uint8Array {
  const iv = new Uint8Array(IV_BYTES);
  new DataView(iv.buffer).setBigUint64(4, seq);
  return iv;
}
