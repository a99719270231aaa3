/**
 * Committed readings by identity (meter, seq; docs/protocol.md §3.8), with their receipts,
 * from the store's reading index: for the receipt API, and to know whether a reading
 * submitted again, or left in the write-ahead, is in a block already (its bytes, or a twin).
 */
import {
  type CommittedReading, ProtocolError, type Receipt, type SignedTx, decodeBlock, decodeCommit, decodeTx, inclusionProof,
  sameReading, sha256,
} from '../protocols/index.js';
import type { LedgerStore } from './store/store.js';

/**
 * The reading committed as (meterId, seq), with its receipt, or undefined. With `sameAs`,
 * only if it is the same reading as `sameAs` (checked before the receipt is built, so a
 * flood of replays costs a block read each, no more).
 */
export async function committedReading(store: LedgerStore, chainId: string, meterId: string, seq: bigint, sameAs?: SignedTx): Promise<CommittedReading | undefined> {
  const pos = await store.readingPosition(meterId, seq);
  if (!pos) return undefined;
  const block = await store.blockBytes(pos.height);
  if (!block) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
  const b = decodeBlock(block);
  const tx = b.txs[pos.index];
  if (!tx) throw new ProtocolError('E_STORE_CORRUPT', `index of ${meterId}/${seq} points past block ${pos.height}`);
  if (sameAs && !sameReading(decodeTx(tx, Infinity), sameAs)) return undefined;
  const commit = await store.commitBytes(pos.height);
  if (!commit) throw new ProtocolError('E_STORE_CORRUPT', `commit certificate of block ${pos.height} is missing`);
  const receipt: Receipt = { chainId, tx, index: pos.index, header: b.header, proof: inclusionProof(b.txs, pos.index), commit: decodeCommit(commit) };
  return { meterId, seq, txHash: sha256(tx), height: pos.height, receipt };
}
