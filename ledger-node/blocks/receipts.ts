/**
 * Where a receipt is built for a stored block: committed readings by identity (meter, seq;
 * docs/protocol.md §3.8) with their receipts, from the store's reading index, for the
 * receipt API, and to know whether a reading submitted again, or left in the write-ahead,
 * is in a block already (its bytes, or a twin); any transaction by its hash, from the
 * transaction index (receiptAt, which bundles use too). The receipt itself is protocols'
 * makeReceipt, as for the receipts the chain writer hands out at commit (./commit.ts).
 */
import {
  type Block, type CommitCertificate, type CommittedReading, ProtocolError, type Receipt, type SignedTx, type TxBody, decodeAnyTx, decodeBlock, decodeCommit, decodeTx,
  equalBytes, makeReceipt, sameReading, sha256,
} from '../../protocols/index.js';
import type { LedgerStore, TxPosition } from '../store/store.js';

/**
 * The reading committed as (meterId, seq), with its receipt, or undefined. With `sameAs`,
 * only if it is the same reading as `sameAs` (checked before the receipt is built, so a
 * flood of replays costs a block read each, no more).
 */
export async function committedReading(store: LedgerStore, chainId: string, meterId: string, seq: bigint, sameAs?: SignedTx<TxBody>): Promise<CommittedReading | undefined> {
  const pos = await store.readingPosition(meterId, seq);
  if (!pos) return undefined;
  const raw = await store.blockBytes(pos.height);
  if (!raw) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
  const block = decodeBlock(raw);
  const tx = block.txs[pos.index];
  if (!tx) throw new ProtocolError('E_STORE_CORRUPT', `index of ${meterId}/${seq} points past block ${pos.height}`);
  if (sameAs && !sameReading(decodeAnyTx(tx, Infinity), sameAs)) return undefined;
  const commit = await store.commitBytes(pos.height);
  if (!commit) throw new ProtocolError('E_STORE_CORRUPT', `commit certificate of block ${pos.height} is missing`);
  const receipt = makeReceipt(chainId, block, pos.index, decodeCommit(commit));
  return { meterId, seq, txHash: sha256(tx), height: pos.height, receipt };
}

/**
 * Receipts of stored transactions by place, blocks decoded once each (a bundle's
 * receipts are often in a few blocks).
 */
export class ReceiptReader {
  private readonly blocks = new Map<number, { block: Block; commit: CommitCertificate }>();

  constructor(private readonly store: LedgerStore, private readonly chainId: string) {}

  async at(pos: TxPosition): Promise<Receipt> {
    let b = this.blocks.get(pos.height);
    if (!b) {
      const [raw, commit] = await Promise.all([this.store.blockBytes(pos.height), this.store.commitBytes(pos.height)]);
      if (!raw) throw new ProtocolError('E_STORE_CORRUPT', `index points to missing block ${pos.height}`);
      if (!commit) throw new ProtocolError('E_STORE_CORRUPT', `commit certificate of block ${pos.height} is missing`);
      b = { block: decodeBlock(raw), commit: decodeCommit(commit) };
      this.blocks.set(pos.height, b);
    }
    if (b.block.txs[pos.index] === undefined) throw new ProtocolError('E_STORE_CORRUPT', `index points past block ${pos.height} (transaction ${pos.index})`);
    return makeReceipt(this.chainId, b.block, pos.index, b.commit);
  }
}

/** The receipt of the committed transaction whose bytes hash to `hash`, or undefined. */
export async function committedTx(store: LedgerStore, chainId: string, hash: Uint8Array): Promise<Receipt | undefined> {
  const pos = await store.txPosition(hash);
  if (!pos) return undefined;
  const r = await new ReceiptReader(store, chainId).at(pos);
  if (!equalBytes(sha256(r.tx), hash)) throw new ProtocolError('E_STORE_CORRUPT', `the transaction index points ${pos.height}:${pos.index} at another transaction`);
  return r;
}
