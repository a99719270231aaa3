/**
 * Merkle Tree Hash and audit paths of RFC 6962 §2.1 (same as RFC 9162 §2.1.1), over SHA-256.
 * Leaves are the exact transaction bytes.
 */
import { equalBytes } from './bytes.js';
import { sha256 } from './hash.js';

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

/** RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0)). */
export const leafHash = (leaf: Uint8Array): Uint8Array => sha256(LEAF, leaf);
/** RFC 6962 §2.1: SHA-256(0x01 || MTH(left) || MTH(right)). */
export const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(NODE, l, r);

/** Largest power of two strictly below n (n > 1). RFC 6962 §2.1 "k". */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(hashes: Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return hashes[lo]!;
  const k = splitPoint(n);
  return nodeHash(mth(hashes, lo, lo + k), mth(hashes, lo + k, hi));
}

/** RFC 6962 §2.1 Merkle Tree Hash; the empty tree hashes to SHA-256 of the empty string. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return merkleRootOfLeafHashes(leaves.map(leafHash));
}

/**
 * The same root from the leaves' hashes (leafHash of each, in order): a block's leaves are
 * hashed once where it is made or checked and the hashes kept for its receipts' paths
 * (allInclusionProofs), a leaf being a whole transaction.
 */
export function merkleRootOfLeafHashes(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha256();
  return mth(hashes as Uint8Array[], 0, hashes.length);
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the audit path of leaf `index`, bottom-up. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} outside tree of ${leaves.length}`);
  }
  const hashes = leaves.map(leafHash);
  const path: Uint8Array[] = [];
  const walk = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, lo, lo + k);
      path.push(mth(hashes, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      path.push(mth(hashes, lo, lo + k));
    }
  };
  walk(index, 0, leaves.length);
  return path;
}

/**
 * All audit paths of one tree at once, in O(n log n); for receipts of a whole block.
 * `hashes`, when given, are the leaves' leafHash in order (as merkleRootOfLeafHashes takes).
 */
export function allInclusionProofs(leaves: readonly Uint8Array[], hashes: readonly Uint8Array[] = leaves.map(leafHash)): Uint8Array[][] {
  if (hashes.length !== leaves.length) throw new RangeError(`${hashes.length} leaf hashes for ${leaves.length} leaves`);
  const paths: Uint8Array[][] = leaves.map(() => []);
  const build = (lo: number, hi: number): Uint8Array => {
    const n = hi - lo;
    if (n === 1) return hashes[lo]!;
    const k = splitPoint(n);
    const left = build(lo, lo + k);
    const right = build(lo + k, hi);
    for (let i = lo; i < lo + k; i++) paths[i]!.push(right);
    for (let i = lo + k; i < hi; i++) paths[i]!.push(left);
    return nodeHash(left, right);
  };
  if (leaves.length > 0) build(0, leaves.length);
  return paths;
}

/**
 * RFC 9162 §2.1.3.2: verify that `leaf` is at `index` of a tree of `size` leaves with
 * root `root`, given its audit path.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(leaf);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}
