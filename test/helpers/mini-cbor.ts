/**
 * A second, deliberately small CBOR (RFC 8949) encoder and decoder for the tests that
 * must not trust protocols/ (cborg): definite lengths, integers, byte and text strings,
 * arrays, maps, tags. Integers come back as bigint; maps as arrays of [key, value].
 */

export type MiniValue = bigint | Uint8Array | string | MiniValue[] | { map: [MiniValue, MiniValue][] } | { tag: bigint; value: MiniValue };

function head(major: number, n: bigint): number[] {
  const m = major << 5;
  if (n < 24n) return [m | Number(n)];
  if (n < 0x100n) return [m | 24, Number(n)];
  if (n < 0x10000n) return [m | 25, Number(n >> 8n), Number(n & 0xffn)];
  if (n < 0x100000000n) return [m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn))];
  return [m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn))];
}

/** Encode (shortest forms; map keys must already be in deterministic order). */
export function miniEncode(v: MiniValue | number): Uint8Array {
  const out: number[] = [];
  const put = (x: MiniValue | number): void => {
    if (typeof x === 'number') x = BigInt(x);
    if (typeof x === 'bigint') out.push(...(x >= 0n ? head(0, x) : head(1, -1n - x)));
    else if (x instanceof Uint8Array) out.push(...head(2, BigInt(x.length)), ...x);
    else if (typeof x === 'string') {
      const b = new TextEncoder().encode(x);
      out.push(...head(3, BigInt(b.length)), ...b);
    } else if (Array.isArray(x)) {
      out.push(...head(4, BigInt(x.length)));
      for (const e of x) put(e);
    } else if ('map' in x) {
      out.push(...head(5, BigInt(x.map.length)));
      for (const [k, e] of x.map) {
        put(k);
        put(e);
      }
    } else {
      out.push(...head(6, x.tag));
      put(x.value);
    }
  };
  put(v);
  return Uint8Array.from(out);
}

/** Decode the first item; returns it and how many bytes it took. */
export function miniDecode(b: Uint8Array, at = 0): [MiniValue, number] {
  const start = at;
  const first = b[at++];
  if (first === undefined) throw new Error('mini-cbor: end of input');
  const major = first >> 5;
  const info = first & 31;
  let n: bigint;
  if (info < 24) n = BigInt(info);
  else if (info <= 27) {
    const len = 1 << (info - 24);
    n = 0n;
    for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(b[at++]!);
  } else throw new Error(`mini-cbor: unsupported additional info ${info}`);
  const take = (): Uint8Array => {
    const s = b.subarray(at, at + Number(n));
    if (s.length !== Number(n)) throw new Error('mini-cbor: short string');
    at += Number(n);
    return s;
  };
  let v: MiniValue;
  switch (major) {
    case 0: v = n; break;
    case 1: v = -1n - n; break;
    case 2: v = take(); break;
    case 3: v = new TextDecoder('utf-8', { fatal: true }).decode(take()); break;
    case 4: {
      const arr: MiniValue[] = [];
      for (let i = 0n; i < n; i++) {
        const [e, used] = miniDecode(b, at);
        arr.push(e);
        at += used;
      }
      v = arr;
      break;
    }
    case 5: {
      const map: [MiniValue, MiniValue][] = [];
      for (let i = 0n; i < n; i++) {
        const [k, u1] = miniDecode(b, at);
        at += u1;
        const [e, u2] = miniDecode(b, at);
        at += u2;
        map.push([k, e]);
      }
      v = { map };
      break;
    }
    case 6: {
      const [e, used] = miniDecode(b, at);
      at += used;
      v = { tag: n, value: e };
      break;
    }
    default: throw new Error(`mini-cbor: unsupported major type ${major}`);
  }
  return [v, at - start];
}

/** The value under integer key `k` of a decoded map. */
export function mapGet(m: MiniValue, k: number): MiniValue | undefined {
  if (typeof m !== 'object' || m instanceof Uint8Array || Array.isArray(m) || !('map' in m)) throw new Error('mini-cbor: not a map');
  return m.map.find(([key]) => key === BigInt(k))?.[1];
}
