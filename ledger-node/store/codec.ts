/** Encodings of what the store keeps besides blocks: meter records, index entries, head. */
import { ProtocolError, decodeCbor, encodeCbor, isAlg } from '../../protocols/index.js';
import { type MeterRecord, SEEN_UNKNOWN } from '../rules.js';

const corrupt = (what: string): ProtocolError => new ProtocolError('E_STORE_CORRUPT', what);

export function encodeMeterRecord(r: MeterRecord): Uint8Array {
  return encodeCbor({
    alg: r.alg, publicKey: r.publicKey, keyEpoch: r.keyEpoch, revoked: r.revoked, lastSeq: r.lastSeq,
    seen: bigintBytes(r.seen),
    ...(r.owner !== undefined ? { owner: r.owner } : {}), ...(r.jid !== undefined ? { jid: r.jid } : {}),
  });
}

export function decodeMeterRecord(b: Uint8Array, where: string): MeterRecord {
  let m: unknown;
  try {
    m = decodeCbor(b);
  } catch {
    throw corrupt(`${where}: meter record is not CBOR`);
  }
  if (!(m instanceof Map)) throw corrupt(`${where}: meter record is not a map`);
  const alg = m.get('alg');
  const pk = m.get('publicKey');
  const keyEpoch = m.get('keyEpoch');
  const revoked = m.get('revoked');
  const lastSeq = m.get('lastSeq');
  const seen = m.get('seen');
  const owner = m.get('owner');
  const jid = m.get('jid');
  if (!isAlg(alg) || !(pk instanceof Uint8Array) || typeof keyEpoch !== 'number' || typeof revoked !== 'boolean' ||
    (typeof lastSeq !== 'number' && typeof lastSeq !== 'bigint') || (seen !== undefined && !(seen instanceof Uint8Array))) {
    throw corrupt(`${where}: meter record has missing or ill-typed fields`);
  }
  return {
    alg, publicKey: pk, keyEpoch, revoked, lastSeq: BigInt(lastSeq),
    // A record from before the window (docs/protocol.md §3.9): the node rebuilds it from the index at start.
    seen: seen instanceof Uint8Array ? bytesBigint(seen) : BigInt(lastSeq) > 0n ? SEEN_UNKNOWN : 0n,
    ...(typeof owner === 'string' ? { owner } : {}), ...(typeof jid === 'string' ? { jid } : {}),
  };
}

/** Unsigned, big-endian, no leading zero bytes (0n: empty). */
function bigintBytes(v: bigint): Uint8Array {
  const hex = v === 0n ? '' : v.toString(16);
  return Uint8Array.from(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
}

const bytesBigint = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

export const encodeIndexEntry = (height: number, index: number): Uint8Array => encodeCbor([height, index]);

export function decodeIndexEntry(b: Uint8Array, where: string): { height: number; index: number } {
  let v: unknown;
  try {
    v = decodeCbor(b);
  } catch {
    throw corrupt(`${where}: index entry is not CBOR`);
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    throw corrupt(`${where}: index entry is not [height, index]`);
  }
  return { height: v[0], index: v[1] };
}

export const encodeHead = (height: number, hash: Uint8Array): Uint8Array => encodeCbor([height, hash]);

export function decodeHead(b: Uint8Array): { height: number; hash: Uint8Array } {
  let v: unknown;
  try {
    v = decodeCbor(b);
  } catch {
    throw corrupt('head pointer is not CBOR');
  }
  if (!Array.isArray(v) || typeof v[0] !== 'number' || !(v[1] instanceof Uint8Array)) throw corrupt('head pointer is not [height, hash]');
  return { height: v[0], hash: v[1] };
}
