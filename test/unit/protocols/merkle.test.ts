/** RFC 6962 §2.1 Merkle Tree Hash and audit paths; RFC 9162 §2.1.3.2 inclusion verification. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allInclusionProofs, fromHex, inclusionProof, leafHash, merkleRoot, merkleRootOfLeafHashes, nodeHash, sha256, toHex, verifyInclusion } from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';
import type { MerkleFile } from '../../vectors/types.js';

const v = readVector<MerkleFile>('merkle.json');
const leaves = v.leaves.map((h) => fromHex(h));

test('RFC 6962 §2.1 Merkle tree hash: the empty tree is SHA-256 of the empty string', () => {
  assert.equal(toHex(merkleRoot([])), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(v.emptyTreeHash, toHex(sha256()));
});

test('RFC 6962 §2.1 Merkle tree hash: roots of the certificate-transparency reference leaves', () => {
  // Published with the CT reference implementation's tests (leaves "", 00, 10, 2021, ...).
  const ct = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  ct.forEach((root, i) => assert.equal(toHex(merkleRoot(leaves.slice(0, i + 1))), root, `size ${i + 1}`));
});

test('RFC 6962 §2.1 leaf and node hashes use the 0x00 / 0x01 domain prefixes', () => {
  const a = leaves[1]!;
  const b = leaves[2]!;
  assert.deepEqual(leafHash(a), sha256(Uint8Array.of(0), a));
  assert.deepEqual(merkleRoot([a, b]), sha256(Uint8Array.of(1), leafHash(a), leafHash(b)));
  assert.deepEqual(nodeHash(leafHash(a), leafHash(b)), merkleRoot([a, b]));
});

test('merkle.json: roots and audit paths of sizes 0..9 and 17; every path verifies (RFC 9162 §2.1.3.2)', () => {
  assert.deepEqual(v.trees.map((t) => t.size), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17]);
  for (const t of v.trees) {
    const ls = leaves.slice(0, t.size);
    const root = merkleRoot(ls);
    assert.equal(toHex(root), t.root, `root of ${t.size}`);
    assert.equal(t.paths.length, t.size);
    t.paths.forEach((p, i) => {
      assert.deepEqual(inclusionProof(ls, i).map(toHex), p, `path ${i} of ${t.size}`);
      assert.equal(verifyInclusion(ls[i]!, i, t.size, p.map((h) => fromHex(h)), root), true, `verify ${i} of ${t.size}`);
    });
  }
});

test('RFC 6962 §2.1.1 PATH: inclusionProof equals allInclusionProofs for every index', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 }), (ls) => {
      const all = allInclusionProofs(ls);
      ls.forEach((_, i) => assert.deepEqual(all[i], inclusionProof(ls, i)));
    }),
    { numRuns: 200 },
  );
  assert.deepEqual(allInclusionProofs([]), []);
  assert.throws(() => inclusionProof(leaves, leaves.length), RangeError);
  assert.throws(() => inclusionProof(leaves, -1), RangeError);
});

test('RFC 9162 §2.1.3.2 verification: a proof verifies, and fails for a wrong index, leaf, root, size or path', () => {
  const treeAndIndex = fc
    .array(fc.uint8Array({ maxLength: 6 }), { minLength: 1, maxLength: 40 })
    .chain((ls) => fc.tuple(fc.constant(ls), fc.nat({ max: ls.length - 1 }), fc.nat({ max: ls.length + 2 })));
  fc.assert(
    fc.property(treeAndIndex, ([ls, i, j]) => {
      const n = ls.length;
      const root = merkleRoot(ls);
      const path = inclusionProof(ls, i);
      const leaf = ls[i]!;
      assert.equal(verifyInclusion(leaf, i, n, path, root), true);
      // Another index: only acceptable when that leaf holds the same bytes and has the same path.
      if (j !== i) {
        const same = j < n && toHex(ls[j]!) === toHex(leaf) && inclusionProof(ls, j).map(toHex).join() === path.map(toHex).join();
        assert.equal(verifyInclusion(leaf, j, n, path, root), same, `index ${j} instead of ${i}`);
      }
      assert.equal(verifyInclusion(Uint8Array.from([...leaf, 0]), i, n, path, root), false, 'another leaf');
      const badRoot = root.slice();
      badRoot[0]! ^= 1;
      assert.equal(verifyInclusion(leaf, i, n, path, badRoot), false, 'another root');
      // Another size fails when it changes the path's length. (When it does not, e.g. index 0
      // in sizes 3 and 4, the computation is the same: the size must come from signed data,
      // as a receipt's header.txCount does.)
      for (const m of [n + 1, n - 1, 2 * n, n + 7]) {
        if (m > i && m !== n && inclusionProof(new Array<Uint8Array>(m).fill(leaf), i).length !== path.length) {
          assert.equal(verifyInclusion(leaf, i, m, path, root), false, `size ${m} instead of ${n}`);
        }
      }
      if (path.length > 0) {
        assert.equal(verifyInclusion(leaf, i, n, path.slice(1), root), false, 'shortened path');
        const p = path.map((h) => h.slice());
        p[p.length - 1]![31]! ^= 1;
        assert.equal(verifyInclusion(leaf, i, n, p, root), false, 'altered path');
      }
      assert.equal(verifyInclusion(leaf, i, n, [...path, root], root), false, 'lengthened path');
    }),
    { numRuns: 300 },
  );
});

test('RFC 9162 §2.1.3.2 step 1: index must be below size', () => {
  const ls = leaves.slice(0, 4);
  const root = merkleRoot(ls);
  assert.equal(verifyInclusion(ls[0]!, 4, 4, inclusionProof(ls, 0), root), false);
  assert.equal(verifyInclusion(ls[0]!, -1, 4, inclusionProof(ls, 0), root), false);
  assert.equal(verifyInclusion(ls[0]!, 0.5, 4, inclusionProof(ls, 0), root), false);
  assert.equal(verifyInclusion(ls[0]!, 0, 1, [], merkleRoot([ls[0]!])), true);
});

test('one tree per block: the root and the audit paths from leaf hashes made once equal those from the leaves', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 40 }), (leaves) => {
    const hashes = leaves.map(leafHash);
    assert.deepStrictEqual(merkleRootOfLeafHashes(hashes), merkleRoot(leaves));
    assert.deepStrictEqual(allInclusionProofs(leaves, hashes), allInclusionProofs(leaves));
  }), { numRuns: 300, seed: 6962 });
  const two = [Uint8Array.of(1), Uint8Array.of(2)];
  assert.throws(() => allInclusionProofs(two, [leafHash(two[0]!)]), RangeError);
});
