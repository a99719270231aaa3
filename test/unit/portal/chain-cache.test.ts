/** The portal's pure verification parts: the meter key in force (key-epochs.ts) and the cached header chain (header-chain.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BlockHeader, Alg, headerHash, sha256, toHex } from '../../../protocols/index.js';
import { ChainVerifier, ForkError, type HeaderSummary, MemoryHeaderStore } from '../../../gateway/portal/app/header-chain.js';
import { type KeyEvent, keyAt } from '../../../gateway/portal/app/key-epochs.js';

const k = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const G = { alg: Alg.EdDSA, publicKey: k(1) };

test('keyAt: genesis key, then a rotation from its place in the chain on; a revocation ends it', () => {
  const ev: KeyEvent[] = [
    { type: 'rotate', height: 10, index: 2, alg: Alg.EdDSA, publicKey: k(2), keyEpoch: 1 },
    { type: 'revoke', height: 20, index: 0 },
  ];
  const at = (height: number, index: number) => keyAt(G, ev, { height, index });
  assert.deepEqual(at(9, 5), { ok: true, key: { ...G, epoch: 0, from: 'genesis' } });
  assert.deepEqual(at(10, 1), { ok: true, key: { ...G, epoch: 0, from: 'genesis' } }, 'same block, before the rotation');
  assert.deepEqual(at(10, 3), { ok: true, key: { alg: Alg.EdDSA, publicKey: k(2), epoch: 1, from: 10 } });
  const late = at(21, 0);
  assert.equal(late.ok, false);
  assert.match(late.ok ? '' : late.why, /revoked at block 20/);
});

test('keyAt: a meter registered after genesis has no key before its registration, and epochs may not skip', () => {
  const ev: KeyEvent[] = [{ type: 'register', height: 5, index: 0, alg: Alg.ES256, publicKey: k(3) }];
  const early = keyAt(undefined, ev, { height: 4, index: 0 });
  assert.equal(early.ok, false);
  assert.match(early.ok ? '' : early.why, /no key before block 4/);
  assert.deepEqual(keyAt(undefined, ev, { height: 6, index: 0 }), { ok: true, key: { alg: Alg.ES256, publicKey: k(3), epoch: 0, from: 5 } });
  const skip = keyAt(undefined, [...ev, { type: 'rotate', height: 7, index: 0, alg: Alg.EdDSA, publicKey: k(4), keyEpoch: 2 }], { height: 8, index: 0 });
  assert.match(skip.ok ? '' : skip.why, /epoch 2, not 1/);
  const twice = keyAt(G, ev, { height: 6, index: 0 });
  assert.match(twice.ok ? '' : twice.why, /second registration/);
});

/** A chain of `n` headers on genesis hash `g`. */
function chain(g: Uint8Array, n: number, salt = 0): HeaderSummary[] {
  const out: HeaderSummary[] = [];
  let prev = g;
  for (let h = 1; h <= n; h++) {
    const header: BlockHeader = { chainId: 'c', height: h, time: 1000 + h + (h > 5 ? salt : 0), prevHash: prev, txRoot: k(9), txCount: 1, proposer: 'v1' };
    out.push({ height: h, chainId: 'c', time: header.time, prevHash: toHex(prev), txRoot: toHex(k(9)), txCount: 1, proposer: 'v1' });
    prev = headerHash(header);
  }
  return out;
}

test('the header chain: a second verifier on the same store fetches only the headers above the cached tip', async () => {
  const g = sha256(k(7));
  let served = chain(g, 250);
  const list = async (from: number, limit: number) => served.filter((b) => b.height >= from && b.height < from + limit);
  const store = new MemoryHeaderStore();
  const first = new ChainVerifier('c', g, list, store);
  const h200 = await first.hashAt(200);
  assert.equal(first.fetched, 200);
  assert.equal(h200.cached, false);
  const second = new ChainVerifier('c', g, list, store);
  const again = await second.hashAt(200);
  assert.deepEqual([again.cached, toHex(again.hash)], [true, toHex(h200.hash)]);
  await second.hashAt(250);
  assert.equal(second.fetched, 50, 'only 201..250');
  // The gateway now serves another history from block 6: the cached tip no longer links.
  served = chain(g, 300, 1);
  const third = new ChainVerifier('c', g, list, store);
  await assert.rejects(third.hashAt(260), (e: unknown) => e instanceof ForkError && /fork: block 251/.test(e.message));
  assert.equal(toHex((await third.hashAt(200)).hash), toHex(h200.hash), 'the cache is not overwritten');
});

test('the header chain: a certificate result is kept with the hash it was checked for', async () => {
  const g = sha256(k(8));
  const served = chain(g, 3);
  const store = new MemoryHeaderStore();
  const v = new ChainVerifier('c', g, async (from, limit) => served.filter((b) => b.height >= from && b.height < from + limit), store);
  const a = await v.hashAt(3);
  await v.certify(3, k(0));
  assert.equal(store.byHeight.get(3)!.certified, false, 'another hash is not certified');
  await v.certify(3, a.hash);
  assert.equal((await new ChainVerifier('c', g, async () => [], store).hashAt(3)).certified, true);
  await assert.rejects(new ChainVerifier('c', g, async () => [], store).hashAt(4), /did not list block 4/);
  // a hole under the tip is never filled from the gateway's word
  store.byHeight.delete(2);
  store.byHeight.set(4, { height: 4, hash: '00'.repeat(32), certified: false });
  await assert.rejects(new ChainVerifier('c', g, async () => served, store).hashAt(2), /missing from this browser's header cache/);
});
