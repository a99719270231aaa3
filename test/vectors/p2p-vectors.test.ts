/**
 * test/vectors/p2p.json is docs/protocol.md §12: every valid envelope reads back field by
 * field, its header is what encodePeerHeader makes, its signature checks out with noble
 * (RFC 8032) and the node opens it; every invalid one is refused with its code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Alg, encodePeerHeader, fromHex, fromUtf8, parsePeerEnvelope, peerEnvelopeId, publicKeyOf, sha256, toHex, unbindAnswer, verifySignature,
} from '../../protocols/index.js';
import { openEnvelope, peerKeyObjects } from '../../ledger-node/p2p/envelope.js';
import { P2pError } from '../../ledger-node/p2p/errors.js';
import { ReplayGuard } from '../../ledger-node/p2p/replay.js';
import { readVector } from './generate.js';
import type { BlockFile, P2pFile } from './types.js';

const p2p = readVector<P2pFile>('p2p.json');
const secrets = readVector<BlockFile>('block.json').validatorSecretKeys;
const publicKeys = Object.fromEntries(Object.entries(secrets).map(([id, sk]) => [id, publicKeyOf(Alg.EdDSA, fromHex(sk))]));
const keysFor = (me: string) => peerKeyObjects(Object.entries(publicKeys).filter(([id]) => id !== me).map(([id, publicKey]) => ({ id, publicKey })));

test('§12.1: each valid envelope is header ‖ signature ‖ payload, with the listed fields, signed over the header', () => {
  assert.equal(p2p.valid.length, 4);
  for (const c of p2p.valid) {
    const env = fromHex(c.envelope);
    const parsed = parsePeerEnvelope(env);
    const h = parsed.header;
    assert.deepEqual({ kind: h.kind, from: h.from, to: h.to, timeMs: h.timeMs, chainId: h.chainId }, { kind: c.kind, from: c.from, to: c.to, timeMs: c.timeMs, chainId: p2p.chainId }, c.name);
    assert.equal(toHex(parsed.headerBytes), c.header, c.name);
    assert.equal(toHex(parsed.signature), c.signature, c.name);
    assert.equal(toHex(parsed.payload), c.payload, c.name);
    assert.equal(toHex(sha256(parsed.payload)), c.payloadDigest, c.name);
    assert.equal(toHex(encodePeerHeader({ ...h, payloadDigest: fromHex(c.payloadDigest) })), c.header, c.name);
    assert.ok(verifySignature(Alg.EdDSA, publicKeys[c.from]!, fromHex(c.header), fromHex(c.signature)), c.name);
    assert.equal(toHex(peerEnvelopeId(fromHex(c.header))), c.id, c.name);
  }
});

test('§12.2: the answer is bound to the request: its payload starts with the request\'s id', () => {
  const req = p2p.valid.find((c) => c.kind === 'sync-req')!;
  const res = p2p.valid.find((c) => c.kind === 'sync-res')!;
  assert.equal(fromUtf8(unbindAnswer(fromHex(res.payload), fromHex(req.id))!), 'block 7 and its commit');
  assert.equal(unbindAnswer(fromHex(res.payload), sha256(fromHex(req.header), new Uint8Array([0]))), undefined);
});

test('§12.3: the node opens each valid envelope at its time, as its addressee, and refuses each invalid one with its code', () => {
  for (const c of p2p.valid) {
    const me = c.to || 'val-2';
    const opened = openEnvelope(fromHex(c.envelope), { chainId: p2p.chainId, nodeId: me, peers: keysFor(me), now: c.timeMs, replay: new ReplayGuard(p2p.windowMs, 10) }, c.kind);
    assert.equal(toHex(opened.payload), c.payload, c.name);
  }
  assert.ok(p2p.invalid.length >= 10);
  for (const c of p2p.invalid) {
    assert.throws(
      () => openEnvelope(fromHex(c.envelope), { chainId: p2p.chainId, nodeId: 'val-2', peers: keysFor('val-2'), now: c.nowMs, replay: new ReplayGuard(p2p.windowMs, 10) }, c.expect),
      (e: unknown) => e instanceof P2pError && e.code === c.code,
      c.name,
    );
  }
});
