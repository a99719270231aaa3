/**
 * The deterministic-CBOR check protocols/cbor.ts made before issue 15's one-pass walk:
 * decode, re-encode with cborg's rfc8949 options, compare the bytes. Kept as the
 * reference the walk is proven against (test/unit/protocols/cbor-canonical.test.ts) and
 * timed against (bench/cbor-canon.ts); nothing in the product calls it.
 */
import { type CborLimits, cborLimitsProblem, decodeCbor, decodeCborPrefix, encodeCbor } from '../../protocols/index.js';

const NOT_DETERMINISTIC = 'CBOR is not in deterministic encoding (RFC 8949 §4.2.1)';

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** decodeCanonicalCbor as it was: decode, then re-encode and compare. */
export function decodeCanonicalCborByReencode(bytes: Uint8Array, limits?: CborLimits): unknown {
  if (limits) {
    const problem = cborLimitsProblem(bytes, limits);
    if (problem) throw new TypeError(`CBOR refused before decoding: ${problem}`);
  }
  const value = decodeCbor(bytes);
  if (!sameBytes(encodeCbor(value), bytes, bytes.length)) throw new TypeError(NOT_DETERMINISTIC);
  return value;
}

/** decodeCanonicalCborPrefix as it was. */
export function decodeCanonicalCborPrefixByReencode(bytes: Uint8Array): [value: unknown, rest: Uint8Array] {
  const [value, rest] = decodeCborPrefix(bytes);
  if (!sameBytes(encodeCbor(value), bytes, bytes.length - rest.length)) throw new TypeError(NOT_DETERMINISTIC);
  return [value, rest];
}
