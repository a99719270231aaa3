/**
 * test/vectors/peer-messages.json is docs/protocol.md §12.6-§12.9: each payload decodes to
 * its listed fields (read once more with plain cborg, as another gateway would), encodes
 * back to the same bytes, its sign bytes are as listed and its signature checks out with
 * noble (RFC 8032) and with the node's verifier; each payload to refuse is refused with
 * its code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode as cborgDecode } from 'cborg';
import {
  Alg, type PeerMessage, type SignedProposal, type SignedVote, decodeCommit, decodePeerMessage, decodeSyncAnswer, decodeSyncRequest, decodeTxBatch,
  encodePeerMessage, encodeSyncAnswer, encodeSyncRequest, encodeTxBatch, fromHex, peerMessageSignBytes, publicKeyOf, toHex, verifySignature,
} from '../../protocols/index.js';
import { publicKeyObject } from '../../ledger-node/crypto/native.js';
import { Ed25519Signer } from '../../ledger-node/consensus/signer.js';
import { fixedSets } from '../../ledger-node/consensus/types.js';
import { readVector } from './generate.js';
import type { BlockFile } from './types.js';

interface Payload { name: string; payload: string }
interface File {
  chainId: string;
  consensus: (Payload & { message: Record<string, unknown>; signBytes?: string; blockHash?: string })[];
  gossip: Payload & { txs: string[] };
  sync: { request: Payload & { height: number }; answer: Payload & { block: string; commit: string }; missing: Payload };
  badSignature: (Payload & { code: string })[];
  refuse: (Payload & { kind: 'consensus' | 'tx' | 'sync-req' | 'sync-res'; code: string })[];
}

const v = readVector<File>('peer-messages.json');
const block = readVector<BlockFile>('block.json');
const secrets = block.validatorSecretKeys;
const publicKeys = Object.fromEntries(Object.entries(secrets).map(([id, sk]) => [id, publicKeyOf(Alg.EdDSA, fromHex(sk))]));
const nodeVerifier = new Ed25519Signer(v.chainId, fixedSets(Object.entries(publicKeys).map(([id, k]) => ({ id, power: 1, publicKey: toHex(k) }))), publicKeyObject(Alg.EdDSA, publicKeys['val-1']!));

/** A decoded message as the JSON writes it (bytes as hex, the block as its bytes). */
function asJson(m: PeerMessage): Record<string, unknown> {
  if (m.t === 'status') return { t: m.t, height: m.height };
  if (m.t === 'proposal') return { t: m.t, from: m.from, height: m.height, round: m.round, validRound: m.validRound, block: toHex(m.blockBytes), signature: toHex(m.signature) };
  return { t: m.t, from: m.from, height: m.height, round: m.round, blockHash: m.blockHash === null ? null : toHex(m.blockHash), signature: toHex(m.signature) };
}

/** Plain cborg, maps as Maps, byte strings as hex: what another implementation reads. */
function plain(hex: string): unknown {
  const walk = (x: unknown): unknown => (x instanceof Uint8Array ? toHex(x) : x instanceof Map ? Object.fromEntries([...x].map(([k, e]) => [k, walk(e)])) : Array.isArray(x) ? x.map(walk) : x);
  return walk(cborgDecode(fromHex(hex), { useMaps: true }));
}

test('§12.6: each consensus payload decodes to its fields, encodes back, and is signed over its sign bytes', () => {
  assert.equal(v.consensus.length, 6);
  for (const c of v.consensus) {
    const m = decodePeerMessage(fromHex(c.payload));
    assert.deepEqual(asJson(m), c.message, c.name);
    assert.deepEqual(plain(c.payload), c.message, c.name);
    assert.equal(toHex(encodePeerMessage(m)), c.payload, c.name);
    if (m.t === 'status') continue;
    if (m.t === 'proposal') assert.equal(toHex(m.blockHash), c.blockHash, c.name);
    assert.equal(toHex(peerMessageSignBytes(v.chainId, m)), c.signBytes, c.name);
    assert.ok(verifySignature(Alg.EdDSA, publicKeys[m.from]!, fromHex(c.signBytes!), m.signature), c.name);
    assert.ok(nodeVerifier.verify(m), c.name);
  }
  // Block 1 is block.json's, and val-2's precommit signature is the one its commit certificate holds.
  const proposal = decodePeerMessage(fromHex(v.consensus[0]!.payload)) as SignedProposal;
  assert.equal(toHex(proposal.blockBytes), block.blockBytes);
  assert.equal(toHex(proposal.blockHash), block.blockHash);
  const precommit = decodePeerMessage(fromHex(v.consensus[4]!.payload)) as SignedVote;
  assert.equal(v.consensus[4]!.signBytes, block.precommitSignBytes);
  assert.equal(toHex(precommit.signature), block.commit.signatures.find((s) => s.validator === 'val-2')!.signature);
  assert.equal(v.consensus[3]!.message.blockHash, null);
});

test('§12.6: a message whose signature is not its sender\'s over its sign bytes is refused', () => {
  assert.equal(v.badSignature.length, 2);
  for (const c of v.badSignature) {
    const m = decodePeerMessage(fromHex(c.payload)) as SignedProposal | SignedVote;
    assert.equal(c.code, 'E_P2P_BAD_SIGNATURE');
    assert.equal(verifySignature(Alg.EdDSA, publicKeys[m.from]!, peerMessageSignBytes(v.chainId, m), m.signature), false, c.name);
    assert.equal(nodeVerifier.verify(m), false, c.name);
  }
});

test('§12.7-§12.8: a gossip batch, a sync request and its answers decode and encode back', () => {
  assert.deepEqual(decodeTxBatch(fromHex(v.gossip.payload)).map(toHex), v.gossip.txs);
  assert.deepEqual(plain(v.gossip.payload), v.gossip.txs);
  assert.equal(toHex(encodeTxBatch(v.gossip.txs.map((h) => fromHex(h)))), v.gossip.payload);
  assert.equal(decodeSyncRequest(fromHex(v.sync.request.payload)), v.sync.request.height);
  assert.deepEqual(plain(v.sync.request.payload), { t: 'block', height: v.sync.request.height });
  assert.equal(toHex(encodeSyncRequest(v.sync.request.height)), v.sync.request.payload);
  const a = decodeSyncAnswer(fromHex(v.sync.answer.payload))!;
  assert.deepEqual({ block: toHex(a.block), commit: toHex(a.commit) }, { block: v.sync.answer.block, commit: v.sync.answer.commit });
  assert.deepEqual(plain(v.sync.answer.payload), { block: v.sync.answer.block, commit: v.sync.answer.commit });
  assert.equal(toHex(encodeSyncAnswer(a)), v.sync.answer.payload);
  assert.equal(v.sync.answer.block, block.blockBytes);
  assert.equal(v.sync.answer.commit, block.commitBytes);
  assert.equal(decodeCommit(a.commit).height, 1);
  assert.equal(decodeSyncAnswer(fromHex(v.sync.missing.payload)), undefined);
  assert.deepEqual(plain(v.sync.missing.payload), { missing: true });
});

test('§12.6-§12.8: each payload to refuse is refused with its code', () => {
  const decoders = {
    consensus: decodePeerMessage, tx: decodeTxBatch, 'sync-req': decodeSyncRequest, 'sync-res': decodeSyncAnswer,
  } as const satisfies Record<File['refuse'][number]['kind'], (b: Uint8Array) => unknown>;
  assert.ok(v.refuse.length >= 20);
  for (const kind of Object.keys(decoders)) assert.ok(v.refuse.some((c) => c.kind === kind), kind);
  for (const c of v.refuse) {
    assert.throws(() => decoders[c.kind](fromHex(c.payload)), (e: unknown) => (e as { code?: string }).code === c.code, `${c.kind}: ${c.name}`);
  }
});
