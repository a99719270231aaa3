/** JSON views of protocol objects: hashes and bytes as hex, sequence numbers as strings. */
import {
  type BlockHeader, type CommitCertificate, type Receipt, TX_TYPE_NAMES, TxType, decodeAnyTx, encodeReceipt, headerHash, sha256, toHex, txMeterId, txSubjects,
} from '../../protocols/index.js';
import type { StoredBlock } from '../../ledger-node/api.js';

export const headerView = (h: BlockHeader) => ({
  chainId: h.chainId, height: h.height, time: h.time, prevHash: toHex(h.prevHash),
  txRoot: toHex(h.txRoot), txCount: h.txCount, proposer: h.proposer,
});

export const commitView = (c: CommitCertificate) => ({
  height: c.height, round: c.round, blockHash: toHex(c.blockHash),
  signatures: c.signatures.map((s) => ({ validator: s.validator, signature: toHex(s.signature) })),
});

export const blockSummaryView = (b: StoredBlock) => ({ ...headerView(b.header), hash: toHex(b.hash) });

export const blockView = (b: StoredBlock) => ({
  ...blockSummaryView(b),
  txHashes: b.txs.map((t) => toHex(sha256(t))),
  commit: commitView(b.commit),
});

/** A receipt as JSON; `cbor` is the hex of its exact encoding (what `receipt verify` reads). */
export function receiptView(r: Receipt) {
  const tx = decodeAnyTx(r.tx, Number.MAX_SAFE_INTEGER);
  const body = tx.body;
  const meterId = txMeterId(body);
  return {
    chainId: r.chainId,
    type: body.type,
    typeName: TX_TYPE_NAMES[body.type],
    ...(meterId !== undefined ? { meterId } : {}),
    // A sealed reading stays sealed: its values are in `tx`, for its recipients (§11.4).
    ...(body.type === TxType.Reading ? { seq: body.seq.toString(), time: body.time, ...('sealed' in body ? { sealed: true } : { importWh: body.importWh }) } : {}),
    about: txSubjects(body),
    height: r.header.height,
    blockHash: toHex(headerHash(r.header)),
    index: r.index,
    txHash: toHex(tx.hash),
    tx: toHex(r.tx),
    header: headerView(r.header),
    proof: r.proof.map(toHex),
    commit: commitView(r.commit),
    cbor: toHex(encodeReceipt(r)),
  };
}
