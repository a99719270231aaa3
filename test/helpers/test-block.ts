/** One block over a batch of readings, committed by a single test validator, with receipts. */
import {
  Alg, type CommittedReading, type Receipt, VoteType, headerHash, makeHeader, makeReceipt, signMessage, voteSignBytes,
} from '../../protocols/index.js';

export interface Batched {
  readonly bytes: Uint8Array;
  readonly meterId: string;
  readonly seq: bigint;
  readonly txHash: Uint8Array;
}

export function commitBatch(
  chainId: string, height: number, prevHash: Uint8Array, validatorId: string, validatorKey: Uint8Array, batch: readonly Batched[],
): { blockHash: Uint8Array; committed: CommittedReading[] } {
  const txs = batch.map((p) => p.bytes);
  const header = makeHeader({ chainId, height, time: Date.now(), prevHash, proposer: validatorId }, txs);
  const blockHash = headerHash(header);
  const signature = signMessage(Alg.EdDSA, validatorKey, voteSignBytes(chainId, VoteType.Precommit, height, 0, blockHash));
  const commit = { height, round: 0, blockHash, signatures: [{ validator: validatorId, signature }] };
  const committed = batch.map((p, index): CommittedReading => {
    const receipt: Receipt = makeReceipt(chainId, { header, txs }, index, commit);
    return { meterId: p.meterId, seq: p.seq, txHash: p.txHash, height, receipt };
  });
  return { blockHash, committed };
}
