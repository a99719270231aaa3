/**
 * verifyReceipt checks the meter's signature on its period key transactions too (type 5,
 * docs/protocol.md §7.1, §11.6): a receipt of confidential.json's period key, committed in a
 * block of block.json's validators, is signatureChecked with the meter's genesis key, and
 * the same body signed by another key (or a genesis naming another key) is not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, type PeriodKeyBody, VoteType, decodeAnyTx, fromHex, headerHash, makeHeader, makeReceipt, parseGenesis, signMessage, signPeriodKey,
  verifyReceipt, voteSignBytes,
} from '../../../protocols/index.js';
import { readVector, seed } from '../../vectors/generate.js';
import type { BlockFile, ConfidentialFile } from '../../vectors/types.js';

const b = readVector<BlockFile>('block.json');
const c = readVector<ConfidentialFile>('confidential.json');
const genesisWith = (publicKey: string) => parseGenesis({
  ...b.genesis,
  meters: [...(b.genesis.meters as object[]), { id: c.meter.id, alg: 'Ed25519', publicKey, owner: 'john' }],
});

function receiptOf(tx: Uint8Array) {
  const chainId = b.genesis.chainId as string;
  const header = makeHeader({ chainId, height: 1, time: 1793491200000, prevHash: new Uint8Array(32), proposer: 'val-1' }, [tx]);
  const blockHash = headerHash(header);
  const signatures = ['val-1', 'val-2', 'val-3'].map((v) => ({ validator: v, signature: signMessage(Alg.EdDSA, seed(v), voteSignBytes(chainId, VoteType.Precommit, 1, 0, blockHash)) }));
  return makeReceipt(chainId, { header, txs: [tx] }, 0, { height: 1, round: 0, blockHash, signatures });
}

test('a period key transaction\'s receipt: the meter\'s signature is checked against its genesis key', () => {
  const tx = fromHex(c.periodKeyTx.tx);
  const g = genesisWith(c.meter.publicKey);
  const v = verifyReceipt(g, receiptOf(tx));
  assert.equal(v.tx.body.type, 5);
  assert.equal(v.signatureChecked, true, 'signed by the meter\'s genesis key');
  // A genesis that names another key for the meter: the proof holds, the signature is not the meter's.
  const wrongGenesis = genesisWith((b.genesis.meters as { publicKey: string }[])[0]!.publicKey);
  assert.equal(verifyReceipt(wrongGenesis, receiptOf(tx)).signatureChecked, false, 'a period key tx under a genesis with another meter key');
});

test('the same period key body signed by a key that is not the meter\'s: signatureChecked is false', () => {
  const body = decodeAnyTx(fromHex(c.periodKeyTx.tx), Infinity).body as PeriodKeyBody;
  const forged = signPeriodKey(b.genesis.chainId as string, Alg.EdDSA, seed('an-impostor'), body);
  const v = verifyReceipt(genesisWith(c.meter.publicKey), receiptOf(forged));
  assert.equal(v.tx.body.type, 5);
  assert.equal(v.signatureChecked, false, 'the impostor\'s signature is not the meter\'s');
  // The control: the meter's own secret key signs a body that checks.
  const resigned = signPeriodKey(b.genesis.chainId as string, Alg.EdDSA, fromHex(c.meter.secretKey), body);
  assert.equal(verifyReceipt(genesisWith(c.meter.publicKey), receiptOf(resigned)).signatureChecked, true);
});
