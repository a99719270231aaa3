/**
 * Deterministic CBOR (RFC 8949 §4.2.1 "core deterministic encoding"): shortest integer
 * and length forms, definite lengths only, map keys sorted by their encoded bytes.
 * Decoding is strict: a non-shortest form, an indefinite length, duplicate map keys,
 * undefined, NaN or Infinity are refused, so each value has exactly one encoding.
 */
import { Tagged, decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';

export { Tagged };

/** Tag 18: COSE_Sign1_Tagged (RFC 9052 §4.2). */
export const TAG_COSE_SIGN1 = 18;

const decodeOptions = {
  strict: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: true,
  tags: { [TAG_COSE_SIGN1]: Tagged.decoder(TAG_COSE_SIGN1) },
};

/** Encode a value deterministically. Maps with integer keys must be `Map`s. */
export function encodeCbor(value: unknown): Uint8Array {
  return cborgEncode(value, rfc8949EncodeOptions);
}

/** Decode one deterministic CBOR item; throws on trailing bytes or a non-canonical form. */
export function decodeCbor(bytes: Uint8Array): unknown {
  return cborgDecode(bytes, decodeOptions);
}

/**
 * Decode and require that the input is the deterministic encoding of what it decodes to
 * (RFC 8949 §4.2.1): re-encodes and compares, which also catches unsorted map keys.
 */
export function decodeCanonicalCbor(bytes: Uint8Array): unknown {
  const value = decodeCbor(bytes);
  const again = encodeCbor(value);
  if (again.length !== bytes.length || !again.every((b, i) => b === bytes[i])) {
    throw new TypeError('CBOR is not in deterministic encoding (RFC 8949 §4.2.1)');
  }
  return value;
}
