/**
 * Deterministic CBOR (RFC 8949 §4.2.1 "core deterministic encoding"): shortest integer
 * and length forms, definite lengths only, map keys sorted by their encoded bytes.
 * Decoding is strict: a non-shortest form, an indefinite length, duplicate map keys,
 * undefined, NaN or Infinity are refused, so each value has exactly one encoding.
 */
import { Tagged, decode as cborgDecode, decodeFirst as cborgDecodeFirst, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';
import { cborCanonicalProblem } from './cbor-canonical.js';

export { Tagged, cborCanonicalProblem };

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
 * Bounds on one decode, for input from others: a 4 MiB array of empty maps is 4 Mi
 * items (each a JS object, ~1 GB of heap) in 4 MiB of bytes, so a size limit alone does
 * not bound the work. `maxItems` counts every data item (RFC 8949 §2), containers and
 * tags included; `maxDepth` is the deepest nesting, the top-level item being depth 1.
 */
export interface CborLimits {
  readonly maxItems: number;
  readonly maxDepth: number;
}

/**
 * Walk the item heads of one CBOR item (RFC 8949 §3) without building anything, and say
 * what breaks `limits` (or the framing), else undefined. Linear in the items visited and
 * stops at the first fault, so it is cheap on any input. Definite lengths only (§4.2.1).
 */
export function cborLimitsProblem(bytes: Uint8Array, limits: CborLimits): string | undefined {
  const n = bytes.length;
  let at = 0;
  let items = 0;
  // Items still to read in each open container, innermost last.
  const open: number[] = [];
  for (;;) {
    if (at >= n) return 'truncated';
    const ib = bytes[at++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    let arg: number;
    if (ai < 24) arg = ai;
    else if (ai <= 27) {
      const len = 1 << (ai - 24);
      if (at + len > n) return 'truncated';
      arg = 0;
      for (let i = 0; i < len; i++) arg = arg * 256 + bytes[at + i]!;
      at += len;
    } else return ai === 31 ? 'indefinite length' : 'reserved additional information';
    if (++items > limits.maxItems) return `more than ${limits.maxItems} items`;
    let children = 0;
    if (major === 2 || major === 3) {
      if (arg > n - at) return 'truncated';
      at += arg;
    } else if (major === 4 || major === 5) {
      children = major === 5 ? arg * 2 : arg;
      // Each item takes at least a byte: a length past the end is a lie, refused at once.
      if (children > n - at) return 'truncated';
    } else if (major === 6) children = 1;
    if (children > 0) {
      open.push(children);
      if (open.length >= limits.maxDepth) return `nested deeper than ${limits.maxDepth}`;
      continue;
    }
    // A leaf: close every container it completes.
    while (open.length > 0) {
      const left = open[open.length - 1]! - 1;
      if (left > 0) {
        open[open.length - 1] = left;
        break;
      }
      open.pop();
    }
    if (open.length === 0) return undefined;
  }
}

const NOT_DETERMINISTIC = 'CBOR is not in deterministic encoding (RFC 8949 §4.2.1)';

/**
 * Decode and require that the input is the deterministic encoding of what it decodes to
 * (RFC 8949 §4.2.1): decodes, then walks the bytes once (cborCanonicalProblem), which
 * refuses exactly what re-encoding and comparing would, unsorted map keys included.
 * With `limits`, the item heads are checked against them first (cborLimitsProblem), so
 * input from others costs no more than the limits allow.
 */
export function decodeCanonicalCbor(bytes: Uint8Array, limits?: CborLimits): unknown {
  if (limits) {
    const problem = cborLimitsProblem(bytes, limits);
    if (problem) throw new TypeError(`CBOR refused before decoding: ${problem}`);
  }
  const value = decodeCbor(bytes);
  if (cborCanonicalProblem(bytes) !== undefined) throw new TypeError(NOT_DETERMINISTIC);
  return value;
}

/** Decode the first CBOR item of `bytes` (strict, as decodeCbor) and return it with the bytes after it. */
export function decodeCborPrefix(bytes: Uint8Array): [value: unknown, rest: Uint8Array] {
  return cborgDecodeFirst(bytes, decodeOptions);
}

/**
 * Decode the one deterministic CBOR item at the start of `bytes` and return it with the
 * bytes after it (for a plaintext padded after its item, docs/protocol.md §11.4).
 */
export function decodeCanonicalCborPrefix(bytes: Uint8Array): [value: unknown, rest: Uint8Array] {
  const [value, rest] = decodeCborPrefix(bytes);
  if (cborCanonicalProblem(bytes) !== undefined) throw new TypeError(NOT_DETERMINISTIC);
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
