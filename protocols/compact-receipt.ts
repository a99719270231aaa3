/**
 * Compact receipts (docs/protocol.md §8.3.1): what a meter needs to know that its reading
 * is committed, so that it can free its buffer, and to find the full receipt (§7) later.
 * Deterministic CBOR map, integer labels:
 *   0 v uint (1), 1 seq uint, 2 height uint, 3 index uint, 4 blockHash bstr32, 5 txHash bstr32.
 * No chain id and no meter id: the topic names the meter, the CONNECT token binds the
 * session to one chain, and the block hash commits to the chain id (header, §5).
 *
 * Full-receipt requests on `meters/<id>/receipts/get` are maps with exactly one of
 * label 1 (seq) or 5 (txHash), the labels of the compact receipt.
 */
import { decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import type { Receipt } from './receipt.js';

export interface CompactReceipt {
  readonly seq: bigint;
  readonly height: number;
  readonly index: number;
  readonly blockHash: Uint8Array;
  readonly txHash: Uint8Array;
}

export const CompactLabel = { v: 0, seq: 1, height: 2, index: 3, blockHash: 4, txHash: 5 } as const;

const LABELS: readonly number[] = Object.values(CompactLabel);

/** The compact form of the receipt of reading `seq` (its block hash is the one its commit certifies). */
export function compactReceiptOf(r: Receipt, seq: bigint, txHash: Uint8Array = sha256(r.tx)): CompactReceipt {
  return { seq, height: r.header.height, index: r.index, blockHash: r.commit.blockHash, txHash };
}

export function encodeCompactReceipt(c: CompactReceipt): Uint8Array {
  return encodeCbor(new Map<number, unknown>([
    [CompactLabel.v, 1], [CompactLabel.seq, c.seq], [CompactLabel.height, c.height], [CompactLabel.index, c.index],
    [CompactLabel.blockHash, c.blockHash], [CompactLabel.txHash, c.txHash],
  ]));
}

const bad = (msg: string): never => {
  throw new ProtocolError('E_RECEIPT_MALFORMED', msg);
};

const uint = (v: unknown): bigint | undefined =>
  typeof v === 'bigint' && v >= 0n ? v : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;

const hash32 = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;

function canonical(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new ProtocolError('E_RECEIPT_MALFORMED', `${what} is not deterministic CBOR`, { cause });
  }
}

/** A decoded compact-receipt map: exactly labels 0-5 (an unknown label is refused, as in §7). */
export function compactReceiptFromCbor(m: unknown): CompactReceipt {
  if (!(m instanceof Map)) return bad('compact receipt must be a map');
  for (const k of m.keys()) if (typeof k !== 'number' || !LABELS.includes(k)) bad(`compact receipt has an unknown label ${String(k)}`);
  if (m.get(CompactLabel.v) !== 1) bad('compact receipt label 0 (v) must be 1');
  const seq = uint(m.get(CompactLabel.seq));
  const height = uint(m.get(CompactLabel.height));
  const index = uint(m.get(CompactLabel.index));
  const blockHash = m.get(CompactLabel.blockHash);
  const txHash = m.get(CompactLabel.txHash);
  if (seq === undefined) return bad('compact receipt label 1 (seq) must be an unsigned integer');
  if (height === undefined || height < 1n || height > BigInt(Number.MAX_SAFE_INTEGER)) return bad('compact receipt label 2 (height) must be a positive integer');
  if (index === undefined || index > BigInt(Number.MAX_SAFE_INTEGER)) return bad('compact receipt label 3 (index) must be an unsigned integer');
  if (!hash32(blockHash)) return bad('compact receipt label 4 (blockHash) must be 32 bytes');
  if (!hash32(txHash)) return bad('compact receipt label 5 (txHash) must be 32 bytes');
  return { seq, height: Number(height), index: Number(index), blockHash, txHash };
}

export function decodeCompactReceipt(bytes: Uint8Array): CompactReceipt {
  return compactReceiptFromCbor(canonical(bytes, 'compact receipt'));
}

/** What a meter asks for on `meters/<id>/receipts/get`: one of its readings by seq, or a transaction by hash. */
export type ReceiptRequest = { readonly seq: bigint } | { readonly txHash: Uint8Array };

export function encodeReceiptRequest(q: ReceiptRequest): Uint8Array {
  return encodeCbor(new Map<number, unknown>('seq' in q ? [[CompactLabel.seq, q.seq]] : [[CompactLabel.txHash, q.txHash]]));
}

/** Throws ProtocolError('E_RECEIPT_REQUEST_MALFORMED') for anything but {1: seq} or {5: txHash}. */
export function decodeReceiptRequest(bytes: Uint8Array): ReceiptRequest {
  const fail = (msg: string): never => {
    throw new ProtocolError('E_RECEIPT_REQUEST_MALFORMED', msg);
  };
  let m: unknown;
  try {
    if (bytes.length > 64) throw new RangeError('too long');
    m = decodeCanonicalCbor(bytes, { maxItems: 3, maxDepth: 2 });
  } catch {
    return fail('receipt request is not deterministic CBOR of at most 64 bytes');
  }
  if (!(m instanceof Map) || m.size !== 1) return fail('receipt request must be a map of one entry: {1: seq} or {5: txHash}');
  const seq = uint(m.get(CompactLabel.seq));
  if (m.has(CompactLabel.seq)) return seq === undefined ? fail('receipt request label 1 (seq) must be an unsigned integer') : { seq };
  const txHash = m.get(CompactLabel.txHash);
  if (m.has(CompactLabel.txHash)) return hash32(txHash) ? { txHash } : fail('receipt request label 5 (txHash) must be 32 bytes');
  return fail('receipt request must be {1: seq} or {5: txHash}');
}
