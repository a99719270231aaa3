/**
 * Blocks, commit certificates and receipts: a receipt is verifiable offline with the
 * genesis alone (inclusion proof to txRoot, RFC 9162 §2.1.3.2; > 2/3 of genesis power signed
 * the block's precommit), and any change to it is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Alg, type CommitCertificate, ProtocolError, type Receipt, VoteType, commitProblem, decodeBlock, decodeCommit, decodeHeader,
  decodeReceipt, decodeReceiptsTopicMessage, encodeBlock, encodeCommit, encodeHeader, encodeReceipt, fromHex, headerHash,
  merkleRoot, parseGenesis, signMessage, toHex, verifyReceipt, txMeterId, voteSignBytes,
} from '../../../protocols/index.js';
import { readVector, seed } from '../../vectors/generate.js';
import type { BlockFile } from '../../vectors/types.js';

const v = readVector<BlockFile>('block.json');
const genesis = parseGenesis(v.genesis);
const receipt = (): Receipt => decodeReceipt(fromHex(v.receipt.bytes));

function invalid(r: Receipt, what: string, g = genesis): void {
  assert.throws(() => verifyReceipt(g, r), (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `${what}: ${String(e)}`);
    assert.equal(e.code, 'E_RECEIPT_INVALID', what);
    return true;
  }, what);
}
const withCommit = (r: Receipt, c: Partial<CommitCertificate>): Receipt => ({ ...r, commit: { ...r.commit, ...c } });
const precommit = (id: string, c: CommitCertificate, chainId = genesis.chainId) =>
  ({ validator: id, signature: signMessage(Alg.EdDSA, seed(id), voteSignBytes(chainId, VoteType.Precommit, c.height, c.round, c.blockHash)) });

test('block vector: header encoding, block hash = SHA-256(header bytes), block bytes, txRoot over the txs', () => {
  const h = decodeHeader(fromHex(v.headerBytes));
  assert.deepEqual(
    { ...h, prevHash: toHex(h.prevHash), txRoot: toHex(h.txRoot) },
    v.header,
  );
  assert.equal(toHex(encodeHeader(h)), v.headerBytes);
  assert.equal(toHex(headerHash(h)), v.blockHash);
  const b = decodeBlock(fromHex(v.blockBytes));
  assert.deepEqual(b.txs.map(toHex), v.txs);
  assert.equal(toHex(encodeBlock(b)), v.blockBytes);
  assert.equal(toHex(merkleRoot(b.txs)), v.header.txRoot);
  assert.equal(b.txs.length, v.header.txCount);
});

test('vote sign bytes and commit certificate vector; more than 2/3 of the power signed', () => {
  const c = decodeCommit(fromHex(v.commitBytes));
  assert.equal(toHex(encodeCommit(c)), v.commitBytes);
  assert.equal(toHex(voteSignBytes(genesis.chainId, VoteType.Precommit, 1, 0, fromHex(v.blockHash))), v.precommitSignBytes);
  assert.equal(toHex(voteSignBytes(genesis.chainId, VoteType.Prevote, 1, 0, null)), v.prevoteNilSignBytes);
  const h = decodeHeader(fromHex(v.headerBytes));
  assert.equal(commitProblem(genesis, h, c), undefined);
  // 2 of 4 is exactly 1/2, 3 of 4 is enough; exactly 2/3 is not (power 2 of 3).
  assert.match(commitProblem(genesis, h, { ...c, signatures: c.signatures.slice(0, 2) }) ?? '', /two thirds/);
  const g3 = parseGenesis({ ...v.genesis, validators: (v.genesis.validators as unknown[]).slice(0, 3) });
  assert.match(commitProblem(g3, h, { ...c, signatures: c.signatures.slice(0, 2) }) ?? '', /two thirds/);
  assert.equal(commitProblem(g3, h, c), undefined);
});

test('receipt vector verifies with the genesis alone', () => {
  const r = receipt();
  assert.equal(toHex(encodeReceipt(r)), v.receipt.bytes, 're-encodes to the same bytes');
  const ok = verifyReceipt(genesis, r);
  assert.equal(ok.height, v.receiptVerifies.height);
  assert.equal(ok.signatureChecked, v.receiptVerifies.signatureChecked);
  assert.equal(toHex(ok.tx.hash), v.receipt.txHash);
  assert.equal(r.index, v.receipt.index);
  assert.deepEqual(r.proof.map(toHex), v.receipt.proof);
});

test('receipt fails (E_RECEIPT_INVALID) for a flipped tx byte, another index, another chain', () => {
  const r = receipt();
  for (const at of [0, 20, r.tx.length - 1]) {
    const tx = r.tx.slice();
    tx[at]! ^= 1;
    invalid({ ...r, tx }, `tx byte ${at} flipped`);
  }
  for (const index of [0, 2, 4, 5, 6, -1]) invalid({ ...r, index }, `index ${index}`);
  invalid({ ...r, chainId: 'other-chain' }, 'receipt chain id');
  invalid(r, 'genesis of another chain', parseGenesis({ ...v.genesis, chainId: 'other-chain' }));
  invalid({ ...r, header: { ...r.header, chainId: 'other-chain' } }, 'header chain id');
  invalid({ ...r, header: { ...r.header, txCount: r.header.txCount + 1 } }, 'header txCount');
  invalid({ ...r, header: { ...r.header, time: r.header.time + 1 } }, 'header changed after commit');
  invalid({ ...r, proof: r.proof.slice(1) }, 'shortened proof');
});

test('receipt fails for missing signatures, insufficient power, an unknown or repeated signer, a bad signature', () => {
  const r = receipt();
  const c = r.commit;
  invalid(withCommit(r, { signatures: [] }), 'no signatures');
  invalid(withCommit(r, { signatures: c.signatures.slice(0, 2) }), '2 of 4');
  invalid(withCommit(r, { signatures: [c.signatures[0]!, c.signatures[1]!, c.signatures[1]!] }), 'val-2 twice');
  invalid(withCommit(r, { signatures: [...c.signatures.slice(0, 2), precommit('val-9', c)] }), 'unknown validator');
  // A key that is not val-3's, under val-3's name.
  invalid(withCommit(r, { signatures: [...c.signatures.slice(0, 2), { validator: 'val-3', signature: precommit('val-9', c).signature }] }), 'val-3 by another key');
  invalid(withCommit(r, { signatures: [...c.signatures.slice(0, 2), precommit('val-3', c, 'other-chain')] }), 'precommit for another chain');
  invalid(withCommit(r, { round: 1 }), 'another round than signed');
  invalid(withCommit(r, { height: 2 }), 'another height');
  const other = fromHex(v.blockHash);
  other[0]! ^= 1;
  invalid(withCommit(r, { blockHash: other }), 'another block hash');
  // The fourth validator's signature is welcome too.
  assert.doesNotThrow(() => verifyReceipt(genesis, withCommit(r, { signatures: [...c.signatures, precommit('val-4', c)] })));
});

test('receipt of a meter whose genesis key differs: proof still holds, signatureChecked is false', () => {
  const g = parseGenesis({
    ...v.genesis,
    meters: (v.genesis.meters as { id: string; publicKey: string }[]).map((m) =>
      m.id === 'meter-p256-0001' ? { ...m, publicKey: (v.genesis.meters as { publicKey: string }[])[3]!.publicKey } : m),
  });
  const r = receipt();
  assert.equal(txMeterId(verifyReceipt(g, r).tx.body), 'meter-p256-0001');
  assert.equal(verifyReceipt(g, r).signatureChecked, false);
});

test('receipts topic messages: committed (with receipt) and rejected (with reason code)', () => {
  const c = decodeReceiptsTopicMessage(fromHex(v.receiptsTopic.committed));
  assert.equal(c.status, 'committed');
  assert.ok(c.status === 'committed' && c.seq === 7n && c.height === 1);
  assert.ok(c.status === 'committed' && c.receipt !== undefined && verifyReceipt(genesis, c.receipt).height === 1);
  assert.equal(toHex(c.txHash), v.receipt.txHash);
  const r = decodeReceiptsTopicMessage(fromHex(v.receiptsTopic.rejected));
  assert.deepEqual({ ...r, txHash: toHex(r.txHash) }, { status: 'rejected', txHash: v.receipt.txHash, code: 'E_READING_SEQ_REPLAY', message: 'seq 7 is not above 8', seq: 7n });
});

test('block.json commitChecks: a certificate is valid only if every entry is a good precommit of a distinct genesis validator and they hold > 2/3 (docs/protocol.md §5)', () => {
  const cases = v.commitChecks.cases;
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid && /spoils/.test(c.name)));
  const header = decodeHeader(fromHex(v.headerBytes));
  for (const c of cases) {
    const problem = commitProblem(genesis, header, decodeCommit(fromHex(c.commitBytes)));
    assert.equal(problem === undefined, c.valid, `${c.name}: ${problem ?? 'valid'}`);
    // The same answer through a receipt (step 5 of §7).
    const r = { ...receipt(), commit: decodeCommit(fromHex(c.commitBytes)) };
    if (c.valid) verifyReceipt(genesis, r);
    else invalid(r, c.name);
  }
});

test('block.json receiptChecks: a receipt has exactly the fields of §7; an extra or missing one is E_RECEIPT_MALFORMED', () => {
  assert.ok(v.receiptChecks.cases.length >= 4);
  for (const c of v.receiptChecks.cases) {
    assert.throws(() => decodeReceipt(fromHex(c.bytes)), (e: unknown) => e instanceof ProtocolError && e.code === c.error, c.name);
  }
});
