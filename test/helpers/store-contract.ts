/**
 * What every store (ledger-node/store/store.ts) must do, as one suite: run on the memory
 * store by test/unit/ledger-node/store.test.ts and on LevelDB by
 * test/integration/store/level.test.ts, so the twin used by fast tests behaves as the disk.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Alg, StateKind, type StateChange, toHex } from '../../protocols/index.js';
import type { MeterRecord } from '../../ledger-node/state/meter.js';
import type { BlockWrite, IndexedReading, LedgerStore } from '../../ledger-node/store/store.js';

export interface StoreUnderTest {
  readonly store: LedgerStore;
  /** Close and open the same store again. */
  reopen(): Promise<LedgerStore>;
  cleanup(): Promise<void>;
}

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
/** LevelDB hands out Buffers: compared as plain bytes. */
const u8 = (b: Uint8Array | undefined): Uint8Array | undefined => (b === undefined ? undefined : Uint8Array.from(b));
const meter: MeterRecord = { alg: Alg.EdDSA, publicKey: new Uint8Array(32).fill(7), keyEpoch: 1, revoked: false, lastSeq: 2n ** 60n, seen: 5n, owner: 'owner-1' };

function block(height: number, readings: BlockWrite['readings'], changes: StateChange[], txs: BlockWrite['txs'] = []): BlockWrite {
  return { height, hash: new Uint8Array(32).fill(height), blockBytes: bytes(0xb0, height), commitBytes: bytes(0xc0, height), readings, txs, changes };
}
const txHash = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const reading = (meterId: string, seq: bigint, height: number, index: number, time: number, importWh: number, exportWh?: number): IndexedReading & { meterId: string } => ({
  meterId, seq, height, index, time, importWh, ...(exportWh !== undefined ? { exportWh } : {}),
});

export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    test('a new store is empty', async () => {
      const s = await open();
      try {
        assert.equal(await s.store.head(), undefined);
        assert.equal(await s.store.genesisHash(), undefined);
        assert.deepEqual(await collect(s.store.blocks()), []);
        assert.deepEqual(await collect(s.store.stateRecords()), []);
        assert.deepEqual(await collect(s.store.readingIndex()), []);
      } finally {
        await s.cleanup();
      }
    });

    test('commitBlock writes block, certificate, head, reading index and state changes; all come back after a reopen', async () => {
      const s = await open();
      let store = s.store;
      try {
        await store.setGenesisHash(new Uint8Array(32).fill(9));
        const { owner: _, ...ownerless } = meter;
        await store.saveState([{ kind: StateKind.Meter, id: 'm-1', value: meter }, { kind: StateKind.Meter, id: 'm-2', value: { ...ownerless, lastSeq: 0n } }]);
        const tariff = { name: 'flat', bands: [{ from: 0, price: 123_456_789_012n }], id: bytes(1, 2, 3), active: true };
        await store.commitBlock(block(1, [reading('m-1', 5n, 1, 0, 1000, 50), reading('m-2', 1n, 1, 1, 900, 10, 3)], [
          { kind: StateKind.Meter, id: 'm-1', value: { ...meter, lastSeq: 5n } },
          { kind: StateKind.Tariff, id: 't-1', value: tariff },
        ]));
        // Times need not rise with seq: seq 6 is older than seq 5.
        await store.commitBlock(block(2, [reading('m-1', 6n, 2, 0, 400, 60), reading('m-1', 7n, 2, 1, 2000, 70)], [
          { kind: StateKind.Meter, id: 'm-1', value: { ...meter, lastSeq: 7n } },
          { kind: StateKind.Tariff, id: 't-1', value: null },
        ]));
        store = await s.reopen();
        assert.deepEqual(await store.head(), { height: 2, hash: new Uint8Array(32).fill(2) });
        assert.equal(toHex((await store.genesisHash())!), '09'.repeat(32));
        assert.deepEqual(u8(await store.blockBytes(2)), bytes(0xb0, 2));
        assert.deepEqual(u8(await store.commitBytes(1)), bytes(0xc0, 1));
        assert.equal(await store.blockBytes(3), undefined);
        assert.deepEqual((await collect(store.blocks())).map((b) => b.height), [1, 2]);
        assert.deepEqual(await collect(store.commitHeights()), [1, 2]);

        const records = await collect(store.stateRecords());
        assert.deepEqual(records.map((r) => `${r.kind}/${r.id}`), ['meter/m-1', 'meter/m-2'], 'a null change deletes the record');
        assert.deepEqual(records[0]!.value, { ...meter, lastSeq: 7n });
        assert.equal((records[1]!.value as MeterRecord).owner, undefined);

        assert.deepEqual(await store.readingPosition('m-2', 1n), { seq: 1n, height: 1, index: 1, time: 900, importWh: 10, exportWh: 3 });
        assert.equal(await store.readingPosition('m-2', 2n), undefined);
        assert.deepEqual((await collect(store.readingPositions('m-1', 6n))).map((r) => r.seq), [6n, 7n]);
        assert.deepEqual((await store.readingsBetween('m-1', 400, 1000)).map((r) => [r.seq, r.time, r.importWh]), [[5n, 1000, 50], [6n, 400, 60]], 'between instants: both ends inclusive, by seq');
        assert.deepEqual((await store.readingsBetween('m-1', 401, 999)).map((r) => r.seq), []);
        assert.deepEqual(await store.readingsBetween('m-3', 0, 1e12), []);
        assert.deepEqual((await collect(store.readingIndex())).map((r) => `${r.meterId}/${r.seq}@${r.height}:${r.index}`), ['m-1/5@1:0', 'm-1/6@2:0', 'm-1/7@2:1', 'm-2/1@1:1']);
      } finally {
        await store.close().catch(() => {});
        await s.cleanup();
      }
    });

    test('the reading history: a meter\'s readings by day then height, one value per block and day, bounded by time; the same entries as the index', async () => {
      const s = await open();
      let store = s.store;
      const DAY = 86_400_000;
      try {
        // Block 1: m-1 over two days (and one sealed reading), m-2 once; block 2: m-1 again on day 0, a late reading.
        await store.commitBlock(block(1, [
          reading('m-1', 1n, 1, 0, DAY - 5, 10, 1), reading('m-2', 1n, 1, 1, 7, 3), reading('m-1', 2n, 1, 2, DAY + 5, 20, 2),
          { meterId: 'm-1', seq: 3n, height: 1, index: 3, time: DAY + 9 },
        ], []));
        await store.commitBlock(block(2, [reading('m-1', 4n, 2, 0, 100, 30, 3), reading('m-1', 2n ** 60n, 2, 1, 2 * DAY, 40)], []));
        store = await s.reopen();
        const all = await store.readingHistory('m-1');
        assert.deepEqual(all.map((r) => `${r.seq}@${r.height}:${r.index}`), ['1@1:0', '4@2:0', '2@1:2', '3@1:3', `${2n ** 60n}@2:1`], 'by day, then height, then leaf');
        assert.deepEqual(all[0], { seq: 1n, height: 1, index: 0, time: DAY - 5, importWh: 10, exportWh: 1 });
        assert.deepEqual(all[3], { seq: 3n, height: 1, index: 3, time: DAY + 9 }, 'a sealed reading: no registers');
        assert.deepEqual(all[4], { seq: 2n ** 60n, height: 2, index: 1, time: 2 * DAY, importWh: 40 }, 'a seq above 2^53');
        assert.deepEqual((await store.readingHistory('m-1', 101, DAY + 5)).map((r) => r.seq), [1n, 2n], 'both ends inclusive');
        assert.deepEqual((await store.readingHistory('m-1', DAY - 5, DAY - 5)).map((r) => r.seq), [1n]);
        assert.deepEqual(await store.readingHistory('m-3'), []);
        assert.deepEqual((await store.readingsBetween('m-1', 0, DAY + 5)).map((r) => r.seq), [1n, 2n, 4n], 'readingsBetween: by seq');
        const index = (await collect(store.readingIndex())).map((r) => JSON.stringify({ ...r, seq: String(r.seq) })).sort();
        const history = (await collect(store.readingHistoryIndex())).map((r) => JSON.stringify({ ...r, seq: String(r.seq) })).sort();
        assert.deepEqual(history, index, 'the history holds what the index holds');
      } finally {
        await store.close().catch(() => {});
        await s.cleanup();
      }
    });

    test('the transaction index: every transaction by hash, and by subject in chain order; both come back after a reopen', async () => {
      const s = await open();
      let store = s.store;
      try {
        await store.commitBlock(block(1, [], [], [
          { hash: txHash(0xa1), subjects: [] },
          { hash: txHash(0xa2), subjects: ['bill/m-1/2026-01', 'account/acc-1'] },
        ]));
        await store.commitBlock(block(2, [], [], [
          { hash: txHash(0xb1), subjects: ['bill/m-1/2026-010'] }, // a longer subject with the same start is another subject
          { hash: txHash(0xb2), subjects: ['bill/m-1/2026-01'] },
        ]));
        await store.commitBlock(block(3, [], [], [{ hash: txHash(0xc1), subjects: ['bill/m-1/2026-01'] }]));
        // A period key transaction: by its meter and by (meter, keyId) (protocols/subjects.ts).
        const k1 = `period-key/m-1/${'ab'.repeat(16)}`;
        await store.commitBlock(block(4, [], [], [
          { hash: txHash(0xd1), subjects: ['meter/m-1', k1] },
          { hash: txHash(0xd2), subjects: ['meter/m-1', `period-key/m-1/${'cd'.repeat(16)}`] },
        ]));
        store = await s.reopen();
        assert.deepEqual(await store.txPosition(txHash(0xa2)), { height: 1, index: 1 });
        assert.deepEqual(await store.txPosition(txHash(0xb2)), { height: 2, index: 1 });
        assert.equal(await store.txPosition(txHash(0xee)), undefined);
        const about = async (subject: string) => (await collect(store.txsAbout(subject))).map((t) => `${t.height}:${t.index}:${toHex(t.hash).slice(0, 2)}`);
        assert.deepEqual(await about('bill/m-1/2026-01'), ['1:1:a2', '2:1:b2', '3:0:c1']);
        assert.deepEqual(await about('bill/m-1/2026-010'), ['2:0:b1']);
        assert.deepEqual(await about('account/acc-1'), ['1:1:a2']);
        assert.deepEqual(await about('bill/m-1'), [], 'a prefix of a subject is not a subject');
        assert.deepEqual(await about(k1), ['4:0:d1'], 'one period key by (meter, keyId)');
        assert.deepEqual(await about('meter/m-1'), ['4:0:d1', '4:1:d2']);
        assert.deepEqual(await about('period-key/m-1'), []);
        assert.deepEqual((await collect(store.txIndex())).map((t) => `${toHex(t.hash).slice(0, 2)}@${t.height}:${t.index}`), ['a1@1:0', 'a2@1:1', 'b1@2:0', 'b2@2:1', 'c1@3:0', 'd1@4:0', 'd2@4:1']);
      } finally {
        await store.close().catch(() => {});
        await s.cleanup();
      }
    });

    test('state records of any kind keep plain data: objects, arrays, bigints, bytes, booleans', async () => {
      const s = await open();
      try {
        const value = { balance: 2n ** 63n, key: bytes(1, 2), lines: [{ amount: -5, text: 'standing charge' }], autopay: true };
        await s.store.saveState([{ kind: StateKind.Account, id: 'acc-1', value }]);
        const store = await s.reopen();
        assert.deepEqual(await collect(store.stateRecords()), [{ kind: StateKind.Account, id: 'acc-1', value }]);
        await store.close();
      } finally {
        await s.cleanup();
      }
    });

    test('the consensus record: parts saved together come back per height, signed messages by round then type; prune forgets lower heights', async () => {
      const s = await open();
      let store = s.store;
      try {
        await store.saveConsensus(4, { signed: { round: 1, type: 'prevote', bytes: bytes(1, 1) } });
        await store.saveConsensus(4, { state: bytes(0xa0), blocks: [{ hash: new Uint8Array(32).fill(0xab), bytes: bytes(0xbb) }], signed: { round: 0, type: 'proposal', bytes: bytes(0, 0) } });
        await store.saveConsensus(4, { signed: { round: 0, type: 'precommit', bytes: bytes(0, 2) } });
        await store.saveConsensus(5, { state: bytes(0xa5) });
        store = await s.reopen();
        const r = await store.loadConsensus(4);
        assert.deepEqual(u8(r.state), bytes(0xa0));
        assert.deepEqual([...r.blocks].map(([k, v]) => [k, u8(v)]), [['ab'.repeat(32), bytes(0xbb)]]);
        assert.deepEqual(r.signed.map(u8), [bytes(0, 2), bytes(0, 0), bytes(1, 1)], 'round 0 precommit, round 0 proposal, round 1 prevote');
        await store.pruneConsensus(5);
        assert.deepEqual(await store.loadConsensus(4), { state: undefined, blocks: new Map(), signed: [] });
        assert.deepEqual(u8((await store.loadConsensus(5)).state), bytes(0xa5));
      } finally {
        await store.close().catch(() => {});
        await s.cleanup();
      }
    });

    test('evidence is kept in the order it came', async () => {
      const s = await open();
      try {
        await s.store.putEvidence(bytes(1));
        await s.store.putEvidence(bytes(2));
        const store = await s.reopen();
        assert.deepEqual((await collect(store.evidence())).map(u8), [bytes(1), bytes(2)]);
        await store.close();
      } finally {
        await s.cleanup();
      }
    });
  });
}
