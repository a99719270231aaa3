/**
 * Committed readings by identity (meter, seq; docs/protocol.md §3.8), with their receipts,
 * from the store's reading index: for the receipt API, and to know whether a reading
 * submitted again, or left in the write-ahead, is in a block already (its bytes, or a twin).
 */
import { type CommittedReading, ProtocolError, type Receipt, decodeBlock, decodeCommit, inclusionProof, sha256 } from '../protocols/index.js';
import type { LedgerStore } from './store/store.js';

/** The reading committed as (meterId, seq), with its receipt, or undefined. */
export async function committedReading(store: LedgerStore, chainId: string, meterId: string, seq: bigint): Promise<CommittedReading | undefined> {
  const pos = await store.readingPosition(meterId, seq);
  if (!pos) return undefined;
  const [block, commit] = await Promise.all([store.blockBytes(pos.height), store.commitBytes(pos.height)]);
  if (!block || !commit) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
  const b = decodeBlock(block);
  const tx = b.txs[pos.index];
  if (!tx) throw new ProtocolError('E_STORE_CORRUPT', `index of ${meterId}/${seq} points past block ${pos.height}`);
  const receipt: Receipt = { chainId, tx, index: pos.index, header: b.header, proof: inclusionProof(b.txs, pos.index), commit: decodeCommit(commit) };
  return { meterId, seq, txHash: sha256(tx), height: pos.height, receipt };
}
