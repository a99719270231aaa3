/**
 * validator-set.json: receipts across validator-set changes (docs/protocol.md §13). The
 * genesis of block.json (val-1..val-4, power 1 each) and seven blocks: change 1 at height 1
 * adds val-5, change 2 at height 3 rotates val-2's key, change 3 at height 5 removes val-1;
 * a reading at height 7 is committed by the set then in force. Then what a checker must
 * refuse: the receipt with genesis alone, with a change left out, and changes that are not
 * approved as §13.2 says.
 */
import {
  Alg, type Block, type CommitCertificate, type Genesis, type Receipt, type ValidatorSetTxBody, ValidatorSetOp, VALSET_TX_TYPE, VoteType,
  allInclusionProofs, approvalSignBytes, encodeReceipt, encodeSetChanges, encodeValidatorSetTxBody, genesisHash, headerHash, makeHeader,
  parseGenesis, publicKeyOf, signCoseSign1, signMessage, toHex, voteSignBytes,
} from '../../protocols/index.js';
import { CHAIN_ID, seed } from './fixed.js';

/** What this file takes from generate.ts (passed in: generate.ts imports this file). */
export interface FromBlockVectors {
  /** block.json's genesis document. */
  readonly genesisDoc: () => Record<string, unknown>;
  /** The exact bytes of readings.json's case `i`. */
  readonly readingTx: (i: number) => Uint8Array;
}

const hex = toHex;
/** The secret of each key of the vectors: validators by id, and the rotated key of val-2. */
const SECRET: Record<string, Uint8Array> = {
  'val-1': seed('val-1'), 'val-2': seed('val-2'), 'val-3': seed('val-3'), 'val-4': seed('val-4'), 'val-5': seed('val-5'), 'val-2-next': seed('val-2-next'),
};
const pub = (key: string): Uint8Array => publicKeyOf(Alg.EdDSA, SECRET[key]!);

interface Signer {
  readonly id: string;
  /** Which secret of SECRET signs (val-2 signs with "val-2-next" after its rotation). */
  readonly key: string;
}
const as = (id: string, key = id): Signer => ({ id, key });

/** A type 20 transaction: the change approved by `approvers`, signed (COSE) by `submitter`. */
export function setChangeTx(
  change: Omit<ValidatorSetTxBody, 'type' | 'time' | 'approvals' | 'possession'>, approvers: readonly Signer[], submitter: Signer, possessionKey?: string,
): Uint8Array {
  const msg = approvalSignBytes(CHAIN_ID, change);
  const body: ValidatorSetTxBody = {
    type: VALSET_TX_TYPE, time: 1_700_000_000_000 + change.seq * 1000, ...change,
    approvals: approvers.map((a) => ({ validator: a.id, signature: signMessage(Alg.EdDSA, SECRET[a.key]!, msg) })),
    ...(possessionKey ? { possession: signMessage(Alg.EdDSA, SECRET[possessionKey]!, msg) } : {}),
  };
  return signCoseSign1(Alg.EdDSA, SECRET[submitter.key]!, encodeValidatorSetTxBody(body), CHAIN_ID, submitter.id);
}

function commitOf(block: Block, signers: readonly Signer[]): CommitCertificate {
  const blockHash = headerHash(block.header);
  const msg = voteSignBytes(CHAIN_ID, VoteType.Precommit, block.header.height, 0, blockHash);
  return { height: block.header.height, round: 0, blockHash, signatures: signers.map((s) => ({ validator: s.id, signature: signMessage(Alg.EdDSA, SECRET[s.key]!, msg) })) };
}

const receiptOf = (block: Block, commit: CommitCertificate, index = 0): Receipt =>
  ({ chainId: CHAIN_ID, tx: block.txs[index]!, index, header: block.header, proof: allInclusionProofs(block.txs)[index]!, commit });

export interface SetChain {
  readonly genesis: Genesis;
  readonly changes: Receipt[];
  readonly reading: Receipt;
  readonly blocks: Block[];
  /** Variants the checker must refuse. */
  readonly bad: { name: string; receipt: Receipt; changes: Receipt[]; error: string }[];
}

export function setChain({ genesisDoc, readingTx }: FromBlockVectors): SetChain {
  const genesis = parseGenesis(genesisDoc());
  const v = (n: number): Signer => as(`val-${n}`);
  const v2next = as('val-2', 'val-2-next');
  const c1 = { seq: 1, op: ValidatorSetOp.Add, validator: 'val-5', power: 1, publicKey: pub('val-5') } as const;
  const c2 = { seq: 2, op: ValidatorSetOp.RotateKey, validator: 'val-2', publicKey: pub('val-2-next') } as const;
  const c3 = { seq: 3, op: ValidatorSetOp.Remove, validator: 'val-1' } as const;
  // What each height carries and who commits it: the set in force there (change at H, in force from H + 2).
  const plan: { txs: Uint8Array[]; signers: Signer[] }[] = [
    { txs: [setChangeTx(c1, [v(1), v(2), v(3)], v(1), 'val-5')], signers: [v(1), v(2), v(3)] }, // 1: genesis set, 3 of 4
    { txs: [readingTx(1)], signers: [v(2), v(3), v(4)] }, // 2: genesis set
    { txs: [setChangeTx(c2, [v(1), as('val-2'), v(3), v(5)], as('val-2'), 'val-2-next')], signers: [v(1), v(2), v(3), v(5)] }, // 3: + val-5, 4 of 5
    { txs: [readingTx(2)], signers: [v(1), v(3), v(4), v(5)] }, // 4
    { txs: [setChangeTx(c3, [v2next, v(3), v(4), v(5)], v(3))], signers: [v2next, v(3), v(4), v(5)] }, // 5: val-2's new key, 4 of 5
    { txs: [readingTx(3)], signers: [v(1), v2next, v(3), v(4)] }, // 6: val-1 still in force
    { txs: [readingTx(0)], signers: [v(3), v(5), v2next] }, // 7: val-1 gone, 3 of 4
  ];
  const blocks: Block[] = [];
  const commits: CommitCertificate[] = [];
  let prevHash = genesisHash(genesis);
  plan.forEach((p, i) => {
    const header = makeHeader({ chainId: CHAIN_ID, height: i + 1, time: 1_700_000_901_000 + i * 1000, prevHash, proposer: p.signers[0]!.id }, p.txs);
    const block = { header, txs: p.txs };
    blocks.push(block);
    commits.push(commitOf(block, p.signers));
    prevHash = headerHash(header);
  });
  const changes = [0, 2, 4].map((i) => receiptOf(blocks[i]!, commits[i]!));
  const reading = receiptOf(blocks[6]!, commits[6]!);
  /** A block at `height` holding `txs`, committed by `signers` (a forger's, for the refusals). */
  const forged = (height: number, txs: Uint8Array[], signers: Signer[]): Receipt => {
    const header = makeHeader({ chainId: CHAIN_ID, height, time: 1_700_000_901_000 + (height - 1) * 1000, prevHash: blocks[height - 2]?.header.prevHash ?? genesisHash(genesis), proposer: signers[0]!.id }, txs);
    const block = { header, txs };
    return receiptOf(block, commitOf(block, signers));
  };
  const bad = [
    { name: 'the receipt with genesis alone: val-5 is no genesis validator', receipt: reading, changes: [], error: 'unknown validator "val-5"' },
    { name: 'change 3 left out: the set of height 7 would still hold val-1, and 3 of its 5 is not more than 2/3', receipt: reading, changes: changes.slice(0, 2), error: 'commit has 3 of 5 voting power' },
    { name: 'change 2 left out: the next is numbered 3', receipt: reading, changes: [changes[0]!, changes[2]!], error: 'the transaction is change 3' },
    {
      name: 'change 1 approved by 2 of 4', receipt: reading,
      changes: [forged(1, [setChangeTx(c1, [v(1), v(2)], v(1), 'val-5')], [v(1), v(2), v(3)]), changes[1]!, changes[2]!], error: 'approvals hold 2 of 4 voting power',
    },
    {
      name: 'change 2 approved for val-2 by its new key instead of its current one', receipt: reading,
      changes: [changes[0]!, forged(3, [setChangeTx(c2, [v(1), v2next, v(3), v(5)], as('val-2'), 'val-2-next')], [v(1), v(2), v(3), v(5)]), changes[2]!],
      error: 'bad approval signature from "val-2"',
    },
    {
      name: 'change 1 without the new key\'s possession signature (signed by val-1\'s key instead)', receipt: reading,
      changes: [forged(1, [setChangeTx(c1, [v(1), v(2), v(3)], v(1), 'val-1')], [v(1), v(2), v(3)]), changes[1]!, changes[2]!], error: 'the new key did not sign the change',
    },
    { name: 'height 7 committed with the removed val-1\'s signature', receipt: forged(7, [readingTx(0)], [v(1), v(3), v(5)]), changes, error: 'unknown validator "val-1"' },
    { name: 'height 7 committed with val-2\'s old key', receipt: forged(7, [readingTx(0)], [as('val-2'), v(3), v(5)]), changes, error: 'bad precommit signature from "val-2"' },
  ];
  return { genesis, changes, reading, blocks, bad };
}

export function buildValidatorSet(from: FromBlockVectors): unknown {
  const { changes, reading, bad } = setChain(from);
  return {
    description: 'docs/protocol.md §13: the genesis of block.json; set change 1 (add val-5) at height 1, 2 (rotate val-2 to the key of secret "val-2-next") at height 3, 3 (remove val-1) at height 5, each in force 2 heights later; a reading at height 7 committed by val-2 (new key), val-3 and val-5. setChanges is the CBOR array of the changes\' receipts (§13.5). Secrets are SHA-256("meterledger/test-vector/" + label).',
    genesis: from.genesisDoc(),
    secretLabels: Object.keys(SECRET),
    changes: changes.map((r) => ({ height: r.header.height, tx: hex(r.tx), receipt: hex(encodeReceipt(r)) })),
    setChanges: hex(encodeSetChanges(changes)),
    receipt: hex(encodeReceipt(reading)),
    verifies: { height: 7, validators: [{ id: 'val-2', power: 1, publicKey: hex(pub('val-2-next')) }, { id: 'val-3', power: 1, publicKey: hex(pub('val-3')) }, { id: 'val-4', power: 1, publicKey: hex(pub('val-4')) }, { id: 'val-5', power: 1, publicKey: hex(pub('val-5')) }] },
    refused: bad.map((b) => ({ name: b.name, receipt: hex(encodeReceipt(b.receipt)), setChanges: hex(encodeSetChanges(b.changes)), error: 'E_RECEIPT_INVALID', reason: b.error })),
  };
}
