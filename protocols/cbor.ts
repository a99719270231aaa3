/**
 * Deterministic CBOR (RFC 8949 §4.2.1 "core deterministic encoding"): shortest integer
 * and length forms, definite lengths only, map keys sorted by their encoded bytes.
 * Decoding is strict: a non-shortest form, an indefinite length, duplicate map keys,
 * undefined, NaN or Infinity are refused, so each value has exactly one encoding.
 */
import { Tagged, decode as cborgDecode, decodeFirst as cborgDecodeFirst, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';

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

/**
 * Decode the one deterministic CBOR item at the start of `bytes` and return it with the
 * bytes after it (for a plaintext padded after its item, docs/protocol.md §11.4).
 */
export function decodeCanonicalCborPrefix(bytes: Uint8Array): [value: unknown, rest: Uint8Array] {
  const [value, rest] = cborgDecodeFirst(bytes, decodeOptions);
  const used = bytes.length - rest.length;
  const again = encodeCbor(value);
  if (again.length !== used || !again.every((b, i) => b === bytes[i])) {
    throw new TypeError('CBOR is not in deterministic encoding (RFC 8949 §4.2.1)');
  }
  return [value, rest];
}

/** RFC 8949 §4.2.1 order: bytewise lexicographic order of the encoded keys. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The head of a definite-length map of `n` entries (major type 5, shortest form). */
function mapHead(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0xa0 + n);
  if (n < 0x100) return Uint8Array.of(0xb8, n);
  if (n < 0x10000) return Uint8Array.of(0xb9, n >> 8, n & 0xff);
  throw new RangeError('map too large');
}

/**
 * An encoder of maps with fixed text keys whose values come already encoded: the same
 * bytes as `encodeCbor` of the map, provided each value is itself deterministic CBOR.
 * For the hot path, where parts shared by many messages (a block header, a commit
 * certificate) are encoded once and spliced into each message.
 */
export function textKeyMapEncoder<K extends string>(keys: readonly K[]): (values: Readonly<Record<K, Uint8Array>>) => Uint8Array {
  const order = keys.map((k) => ({ k, enc: encodeCbor(k) })).sort((a, b) => compareBytes(a.enc, b.enc));
  const head = mapHead(keys.length);
  const fixed = head.length + order.reduce((n, e) => n + e.enc.length, 0);
  return (values) => {
    let len = fixed;
    for (const e of order) len += values[e.k].length;
    const out = new Uint8Array(len);
    out.set(head, 0);
    let at = head.length;
    for (const e of order) {
      out.set(e.enc, at);
      at += e.enc.length;
      const v = values[e.k];
      out.set(v, at);
      at += v.length;
    }
    return out;
  };
}
