/**
 * docs/billing.md §22 on test/vectors/bill-bundle.json alone: what a second
 * implementation (a portal, an auditor's tool) must report for each bundle, from the
 * genesis in the file and nothing else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BundleError, billBundleFromJson, genesisHash, parseGenesis, toHex, verifyBillBundle } from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';

interface BundleFile {
  genesis: Record<string, unknown>;
  genesisHash: string;
  bundle: unknown;
  proves: { meterId: string; period: string; total: number; billHeight: number; computedAt: number; payee: string };
  tampered: { name: string; code: string; field?: string; bundle: unknown }[];
}

const v = readVector<BundleFile>('bill-bundle.json');
const genesis = parseGenesis(v.genesis);

test('bill-bundle.json: the genesis hashes to the bundle\'s genesisHash (docs/protocol.md §6)', () => {
  assert.equal(toHex(genesisHash(genesis)), v.genesisHash);
});

test('bill-bundle.json: the bundle verifies and proves the bill it names (docs/billing.md §22.2)', () => {
  const r = verifyBillBundle(genesis, billBundleFromJson(v.bundle));
  assert.deepEqual(
    { meterId: r.bill.meterId, period: r.bill.period.label, total: r.bill.total, billHeight: r.height, computedAt: r.computedAt, payee: r.payee },
    v.proves,
  );
});

test('bill-bundle.json: every tampered bundle fails with its code (docs/billing.md §22.2)', () => {
  assert.ok(v.tampered.length >= 8);
  for (const t of v.tampered) {
    try {
      verifyBillBundle(genesis, billBundleFromJson(t.bundle));
      assert.fail(`${t.name}: verified`);
    } catch (e) {
      assert.ok(e instanceof BundleError, `${t.name}: ${String(e)}`);
      assert.equal(e.code, t.code, `${t.name}: ${e.message}`);
      if (t.field !== undefined) assert.equal(e.field, t.field, t.name);
    }
  }
});
