/** CommittedReadings (ledger-node/state/ledger.ts): the bill rule's ReadingIndex over the node's store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryReadingIndex, TxType, decodeAnyTx, fromHex } from '../../../protocols/index.js';
import { CommittedReadings } from '../../../ledger-node/state/ledger.js';
import type { IndexedReading } from '../../../ledger-node/store/store.js';
import { readVector } from '../../vectors/generate.js';

const v = readVector<{ steps: { name: string; tx: string }[] }>('billing-ledger.json');
const billTx = decodeAnyTx(fromHex(v.steps.find((s) => s.name === 'bill')!.tx), 1024); // meter-1's
const r = (seq: number, time: number, height: number, exportWh?: number): IndexedReading & { importWh: number } => ({
  seq: BigInt(seq), height, index: 0, time, importWh: seq * 100, ...(exportWh !== undefined ? { exportWh } : {}),
});

test('CommittedReadings: loads the meters bills name, keeps them current as blocks commit, answers by height as MemoryReadingIndex does', async () => {
  // In the store: seq order, times not in seq order (only seq is ordered, protocol.md §3.5).
  const stored = [r(1, 3000, 1), r(2, 1000, 1), r(3, 5000, 2, 7)];
  let loads = 0;
  const c = new CommittedReadings({
    async readingHistory(meterId: string) {
      loads++;
      return meterId === 'meter-1' ? [...stored] : [];
    },
  });
  assert.throws(() => c.between('meter-1', 0, 1e9, 10), /not prepared/);
  const release = await c.prepare([billTx, billTx]);
  (await c.prepare([billTx]))();
  assert.equal(loads, 1, 'one load per meter');
  c.keepOnly(new Set());
  assert.equal(c.size, 1, 'held while in use');
  release();
  c.add([{ meterId: 'meter-1', ...r(4, 4000, 3) }, { meterId: 'meter-9', ...r(1, 1, 3) }]);
  assert.throws(() => c.between('meter-9', 0, 1e9, 10), /not prepared/, 'a meter no bill named is not held');
  const m = new MemoryReadingIndex();
  for (const x of [...stored, r(4, 4000, 3)]) m.add('meter-1', x);
  for (const h of [0, 1, 2, 3]) {
    assert.deepEqual(c.between('meter-1', 1000, 4000, h).map((x) => x.seq), m.between('meter-1', 1000, 4000, h).map((x) => x.seq), `between at ${h}`);
    for (const t of [0, 1000, 2500, 4000, 6000]) {
      for (const withExport of [false, true]) {
        assert.equal(c.latestAtOrBefore('meter-1', t, h, withExport)?.seq, m.latestAtOrBefore('meter-1', t, h, withExport)?.seq, `latest ${t} at ${h}`);
        assert.equal(c.earliestAtOrAfter('meter-1', t, h, withExport)?.seq, m.earliestAtOrAfter('meter-1', t, h, withExport)?.seq, `earliest ${t} at ${h}`);
      }
    }
  }
  assert.deepEqual(c.between('meter-1', 0, 1e9, 2).map((x) => x.seq), [2n, 1n, 3n], 'by time, the block at height 3 unseen at 2');
  assert.equal(billTx.body.type, TxType.Bill);
  c.keepOnly(new Set(['meter-1']));
  assert.equal(c.size, 1, 'kept while its bill waits');
  c.keepOnly(new Set());
  assert.equal(c.size, 0, 'forgotten when no bill of it waits nor is being checked');
  assert.throws(() => c.between('meter-1', 0, 1e9, 10), /not prepared/);
  (await c.prepare([billTx]))();
  assert.equal(loads, 2, 'loaded again for its next bill');
  assert.equal(c.latestAtOrBefore('meter-1', 1e9, 10, false)?.seq, 3n, 'from the store (what add gave after the first load is in the store by then)');
});

test('CommittedReadings without a store (the audit) holds every meter, from what blocks commit', () => {
  const c = new CommittedReadings();
  assert.deepEqual(c.between('meter-1', 0, 1e9, 5), []);
  c.add([{ meterId: 'meter-1', ...r(1, 10, 1) }, { meterId: 'meter-2', ...r(1, 20, 2) }]);
  assert.equal(c.latestAtOrBefore('meter-2', 30, 2, false)?.seq, 1n);
  assert.equal(c.latestAtOrBefore('meter-2', 30, 1, false), undefined);
});
