/**
 * The deterministic-encoding check of protocols/cbor.ts in one pass over the bytes: says
 * whether one CBOR item is exactly what `encodeCbor` (cborg, rfc8949EncodeOptions) would
 * write for the value it decodes to, without building or encoding that value.
 *
 * RFC 8949 §4.2.1 gives most of the rule: the shortest argument in every head, definite
 * lengths, map keys in the bytewise order of their encodings. The rest is how cborg reads
 * and writes values, mirrored here so the check accepts and refuses what a decode and
 * re-encode would (test/unit/protocols/cbor-canonical.test.ts proves it on random input):
 * - text is read with a non-fatal TextDecoder: ill-formed UTF-8 turns into U+FFFD and a
 *   leading byte order mark is dropped, so neither survives a re-encode;
 * - a float is written as an integer when it is a safe integer, else in the first of
 *   float16/32/64 that cborg's own conversion gives back unchanged (that conversion drops
 *   bits of subnormal halves), so a float item is compared with cborg's bytes for it;
 * - cborg's map sorter throws on a key that is a non-empty array or map or a tag, and it
 *   sorts an empty array or map key as if it were the integer 0 (0x00); with one entry it
 *   compares nothing.
 * One rule is stricter than a re-encode: two keys with the same bytes are a duplicate key
 * (RFC 8949 §5.6, docs/protocol.md §2) and refused. The strict decoder refuses the
 * duplicates it can see, but it keeps repeated byte-string keys (each decodes to its own
 * Uint8Array) and so does a re-encode; this walk refuses them too.
 */
import { encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';

/**
 * A map being read: entries still to read (keys and values), its size, the last key's
 * bytes, and which of the one-byte keys that all sort as 0x00 (0x00, [], {}) the current
 * run of keys sorting as 0x00 has held (bits 1, 2, 4).
 */
interface OpenMap {
  left: number;
  readonly entries: number;
  keyStart: number;
  prevStart: number;
  prevEnd: number;
  zeros: number;
}

/** An array or a tag being read: only a count of the items still to read. */
interface OpenOther {
  left: number;
  readonly entries: -1;
}

type Open = OpenMap | OpenOther;

const EMPTY_AS_ZERO = Uint8Array.of(0x00);

/** cborg's sort bytes for the key at [start, end): an empty array or map sorts as 0x00. */
function sortBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const b = bytes[start]!;
  if (end - start === 1 && (b === 0x80 || b === 0xa0)) return EMPTY_AS_ZERO;
  return bytes.subarray(start, end);
}

/** A key cborg's rfc8949 map sorter cannot compare: a non-empty array or map, or a tag. */
function complexKey(bytes: Uint8Array, start: number, end: number): boolean {
  const major = bytes[start]! >> 5;
  return major === 6 || ((major === 4 || major === 5) && end - start > 1);
}

/** The bit of a one-byte key that sorts as 0x00 (0x00, [] or {}), else 0. */
function zeroKind(bytes: Uint8Array, start: number, end: number): number {
  if (end - start !== 1) return 0;
  const b = bytes[start]!;
  return b === 0x00 ? 1 : b === 0x80 ? 2 : b === 0xa0 ? 4 : 0;
}

function compareRanges(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Whether [start, end) is well-formed UTF-8 (Unicode 15 Table 3-7: no overlong forms, no
 * surrogates, nothing past U+10FFFF) that does not open with a byte order mark.
 */
function textProblem(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) {
    return 'text opens with a byte order mark';
  }
  let i = start;
  while (i < end) {
    const c = bytes[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let follow: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) follow = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      follow = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      follow = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return 'text is not UTF-8';
    if (i + follow >= end) return 'text is not UTF-8';
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return 'text is not UTF-8';
    for (let k = 2; k <= follow; k++) {
      const b = bytes[i + k]!;
      if (b < 0x80 || b > 0xbf) return 'text is not UTF-8';
    }
    i += follow + 1;
  }
  return undefined;
}

/** IEEE 754 half precision (binary16) to a number, exactly. */
function half(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const v = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant === 0 ? Infinity : NaN) : (mant + 1024) * 2 ** (exp - 25);
  return h & 0x8000 ? -v : v;
}

/** A float item [start, end): the same bytes as cborg writes for its value, or why not. */
function floatProblem(bytes: Uint8Array, start: number, end: number): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start + 1, end - start - 1);
  const width = end - start - 1;
  const value = width === 2 ? half(view.getUint16(0)) : width === 4 ? view.getFloat32(0) : view.getFloat64(0);
  if (!Number.isFinite(value)) return 'NaN or Infinity';
  const again = cborgEncode(value, rfc8949EncodeOptions);
  if (again.length !== end - start) return 'float not in its shortest form';
  for (let i = 0; i < again.length; i++) if (again[i] !== bytes[start + i]) return 'float not in its shortest form';
  return undefined;
}

/**
 * Walk the one CBOR item at the start of `bytes` and say why it is not the deterministic
 * encoding of its value (as encodeCbor writes it), else undefined. Bytes after the item
 * are not looked at. Linear in the bytes, builds nothing but a stack of open containers.
 */
export function cborCanonicalProblem(bytes: Uint8Array): string | undefined {
  const n = bytes.length;
  let at = 0;
  const open: Open[] = [];
  for (;;) {
    if (at >= n) return 'truncated';
    const start = at;
    const top = open[open.length - 1];
    // An even count left in a map means this item is a key.
    if (top !== undefined && top.entries >= 0 && (top.left & 1) === 0) (top as OpenMap).keyStart = start;
    const ib = bytes[at++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    let arg = ai;
    if (major === 7) {
      if (ai >= 25 && ai <= 27) {
        at += 1 << (ai - 24);
        if (at > n) return 'truncated';
        const problem = floatProblem(bytes, start, at);
        if (problem) return problem;
      } else if (ai < 20 || ai > 22) return ai === 23 ? 'undefined' : ai === 31 ? 'indefinite length' : 'simple value';
    } else if (ai >= 24) {
      if (ai > 27) return ai === 31 ? 'indefinite length' : 'reserved additional information';
      const len = 1 << (ai - 24);
      if (at + len > n) return 'truncated';
      arg = 0;
      for (let i = 0; i < len; i++) arg = arg * 256 + bytes[at + i]!;
      at += len;
      // RFC 8949 §4.2.1: the argument in as few bytes as hold it.
      if (arg < (len === 1 ? 24 : len === 2 ? 0x100 : len === 4 ? 0x10000 : 0x100000000)) return 'argument not in its shortest form';
    }
    let children = 0;
    if (major === 2 || major === 3) {
      if (arg > n - at) return 'truncated';
      if (major === 3) {
        const problem = textProblem(bytes, at, at + arg);
        if (problem) return problem;
      }
      at += arg;
    } else if (major === 4) children = arg;
    else if (major === 5) children = arg * 2;
    else if (major === 6) children = 1;
    if (children > 0) {
      if (children > n - at) return 'truncated';
      open.push(major === 5 ? { left: children, entries: arg, keyStart: -1, prevStart: -1, prevEnd: -1, zeros: 0 } : { left: children, entries: -1 });
      continue;
    }
    // An item ended at `at`: close every container it completes, checking each key.
    for (;;) {
      const o = open[open.length - 1];
      if (o === undefined) return undefined;
      if (o.entries >= 0 && (o.left & 1) === 0) {
        const m = o as OpenMap;
        if (m.entries > 1 && complexKey(bytes, m.keyStart, at)) return 'map key cborg cannot sort';
        const order = m.prevStart < 0 ? -1 : compareRanges(sortBytes(bytes, m.prevStart, m.prevEnd), sortBytes(bytes, m.keyStart, at));
        if (order > 0) return 'map keys not in bytewise order';
        const kind = zeroKind(bytes, m.keyStart, at);
        // Equal sort bytes are equal bytes, except for the three keys that sort as 0x00.
        if (order === 0 && (kind === 0 || (m.zeros & kind) !== 0)) return 'map has a duplicate key';
        m.zeros = order === 0 ? m.zeros | kind : kind;
        m.prevStart = m.keyStart;
        m.prevEnd = at;
      }
      if (--o.left > 0) break;
      open.pop();
    }
  }
}
