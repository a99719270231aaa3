/**
 * Stores written by 0.1 open (ledger-node/store/migrate-0.1.ts): the store is rewritten to
 * 0.1's raw key layout (meters under M, index entries [height, index], no layout key;
 * write-ahead entries under P), then a node opens it and everything is where it was.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { decodeBlock, decodeCbor, encodeCbor, sha256, verifyBillBundle, verifyReceipt, txMeterId } from '../../../protocols/index.js';
import { auditStore } from '../../../ledger-node/audit.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { Keys, kindIdOfRecordKey } from '../../../ledger-node/store/keys.js';
import { LevelStore } from '../../../ledger-node/store/level.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { until } from '../../helpers/until.js';
import { buildBillingChain } from '../../helpers/billing-chain.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;
const segFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.wal')).sort() : []);

async function withDb<T>(path: string, f: (db: Db) => Promise<T>): Promise<T> {
  const db: Db = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

/** Today's layout back to 0.1's, raw: R meter\0<id> -> M<id>, index [h, i, time, importWh, ...] -> [h, i], no F. */
async function toLayout01(path: string): Promise<void> {
  await withDb(path, async (db) => {
    for await (const [k, v] of db.iterator(Keys.range('R'))) {
      const { kind, id } = kindIdOfRecordKey(k);
      assert.equal(kind, 'meter', 'a 0.1 store has meters only');
      await db.put(Keys.meter01(id), v);
      await db.del(k);
    }
    for await (const [k, v] of db.iterator(Keys.range('I'))) {
      const [h, i] = decodeCbor(v) as number[];
      await db.put(k, encodeCbor([h, i]));
    }
    await toLayout2Db(db);
    await db.del(Keys.format);
  });
}

/** Today's layout back to 2's: no transaction index (X, T), no reading history (J). */
async function toLayout2Db(db: Db): Promise<void> {
  await db.clear(Keys.range('X'));
  await db.clear(Keys.range('T'));
  await toLayout4Db(db);
  await db.put(Keys.format, encodeCbor(2));
}

/** Today's layout back to 4's: no reading history (J). */
async function toLayout4Db(db: Db): Promise<void> {
  await db.clear(Keys.range('J'));
  await db.put(Keys.format, encodeCbor(4));
}

test('a 0.1 store (meters under M, a reading index without times) opens: meters, readings, receipts, index times and registers, audit', async () => {
  const chain = makeTestChain({ meters: 2 });
  try {
    const [a, b] = chain.meterIds as [string, string];
    const t0 = Date.now() - 60_000;
    let node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, blockMaxTxs: 3, verifyWorkers: 0 });
    for (let s = 1; s <= 4; s++) {
      await node.intake.submit(chain.reading(a, s, { time: t0 + s * 1000, importWh: 100 * s }), { meterId: a, transport: 'mqtt' });
      await node.intake.submit(chain.reading(b, s, { time: t0 + s * 1000 }), { meterId: b, transport: 'mqtt' });
    }
    await until('8 readings committed', async () => (await node.readings(a, 0n, 10)).length + (await node.readings(b, 0n, 10)).length === 8, 10_000);
    const meterBefore = node.getMeter(a);
    const readingsBefore = await node.readings(a, 0n, 10);
    await node.close();
    const path = dataPaths(chain.dataDir).store;
    await toLayout01(path);
    assert.equal(await withDb(path, async (db) => (await db.keys(Keys.range('M')).all()).length), 2, 'the store is in 0.1 layout');

    node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
    try {
      assert.deepEqual(node.getMeter(a), meterBefore);
      assert.equal(node.getMeter(a)!.lastSeq, '4');
      assert.deepEqual(await node.readings(a, 0n, 10), readingsBefore);
      const r = await node.getReceipt(b, 3n);
      assert.ok(r);
      assert.equal(txMeterId(verifyReceipt(chain.genesis, r).tx.body), b);
      // The chain goes on after the move.
      await node.intake.submit(chain.reading(a, 5, { time: t0 + 5000, importWh: 500 }), { meterId: a, transport: 'mqtt' });
      await until('a 5 committed', async () => (await node.readings(a, 0n, 10)).length === 5, 10_000);
    } finally {
      await node.close();
    }
    await withDb(path, async (db) => {
      assert.equal((await db.keys(Keys.range('M')).all()).length, 0, 'no 0.1 meter keys left');
      assert.equal(decodeCbor((await db.get(Keys.format))!), 5);
    });
    const store = await LevelStore.open(path);
    try {
      // The transaction index was built from the blocks: every transaction by its hash.
      for await (const { height, bytes } of store.blocks()) {
        for (const [index, tx] of decodeBlock(bytes).txs.entries()) assert.deepEqual(await store.txPosition(sha256(tx)), { height, index });
      }
      const between = await store.readingsBetween(a, t0 + 2000, t0 + 4999);
      assert.deepEqual(between.map((x) => [x.seq, x.time, x.importWh]), [[2n, t0 + 2000, 200], [3n, t0 + 3000, 300], [4n, t0 + 4000, 400]], 'index entries widened from their blocks');
    } finally {
      await store.close();
    }
    const audit = await auditStore(chain.dataDir, chain.genesis);
    assert.equal(audit.ok, true, JSON.stringify(audit));
    assert.equal(audit.ok && audit.txs, 9);
  } finally {
    chain.cleanup();
  }
});

test('a layout 2 store (no transaction index) opens with its index built from the blocks: ledger transactions have receipts by hash, the audit passes', async () => {
  const bc = await buildBillingChain();
  try {
    const path = dataPaths(bc.chain.dataDir).store;
    await withDb(path, toLayout2Db);
    await withDb(path, async (db) => assert.equal((await db.keys(Keys.range('X')).all()).length, 0, 'no transaction index'));
    const node = await bc.open();
    try {
      for (const name of ['bill', 'deposit (mary)', 'payment signed by the meter, under the mandate', 'tariff publication']) {
        const r = await node.getTxReceipt(sha256(bc.tx(name)));
        assert.ok(r, `receipt of ${name}`);
        verifyReceipt(bc.genesis, r);
      }
      const bundle = await node.getBillBundle('meter-1', '2026-01');
      assert.equal(bundle && verifyBillBundle(bc.genesis, bundle).bill.total, 7874);
    } finally {
      await node.close();
    }
    await withDb(path, async (db) => assert.equal(decodeCbor((await db.get(Keys.format))!), 5));
    const audit = await auditStore(bc.chain.dataDir, bc.genesis);
    assert.equal(audit.ok, true, JSON.stringify(audit));
  } finally {
    bc.chain.cleanup();
  }
});

test('a layout 4 store (no reading history) opens with its history built from the reading index: the same readings, a bill and its bundle as before, the audit passes; a history entry lost is caught', async () => {
  const bc = await buildBillingChain();
  try {
    const path = dataPaths(bc.chain.dataDir).store;
    const history = async (): Promise<string[]> => {
      const s = await LevelStore.open(path);
      try {
        const out: string[] = [];
        for await (const r of s.readingHistoryIndex()) out.push(JSON.stringify({ ...r, seq: String(r.seq) }));
        return out;
      } finally {
        await s.close();
      }
    };
    const before = await history();
    assert.ok(before.length > 0, 'the chain has readings');
    const written = await withDb(path, async (db) => (await db.iterator(Keys.range('J')).all()).map(([k, v]) => Buffer.concat([k, v]).toString('hex')).sort());
    await withDb(path, toLayout4Db);
    await withDb(path, async (db) => assert.equal((await db.keys(Keys.range('J')).all()).length, 0, 'no reading history'));
    const node = await bc.open();
    try {
      const bundle = await node.getBillBundle('meter-1', '2026-01');
      assert.equal(bundle && verifyBillBundle(bc.genesis, bundle).bill.total, 7874);
    } finally {
      await node.close();
    }
    await withDb(path, async (db) => {
      assert.equal(decodeCbor((await db.get(Keys.format))!), 5);
      const rebuilt = (await db.iterator(Keys.range('J')).all()).map(([k, v]) => Buffer.concat([k, v]).toString('hex')).sort();
      assert.deepEqual(rebuilt, written, 'the migration writes the values commitBlock wrote, byte for byte');
    });
    assert.deepEqual(await history(), before);
    const audit = await auditStore(bc.chain.dataDir, bc.genesis);
    assert.equal(audit.ok, true, JSON.stringify(audit));
    // Tampering: one history value gone.
    await withDb(path, async (db) => {
      const [k] = await db.keys(Keys.range('J')).all();
      await db.del(k!);
    });
    const bad = await auditStore(bc.chain.dataDir, bc.genesis);
    assert.equal(bad.ok, false);
    assert.match(JSON.stringify(bad), /reading history: \d+ committed readings are not in it/);
  } finally {
    bc.chain.cleanup();
  }
});

test('a store of an unknown later layout is refused, not rewritten', async () => {
  const chain = makeTestChain({ meters: 1 });
  try {
    const path = dataPaths(chain.dataDir).store;
    await (await LevelStore.open(path)).close();
    await withDb(path, (db) => db.put(Keys.format, encodeCbor(6)));
    await assert.rejects(LevelStore.open(path), { code: 'E_STORE_LAYOUT', message: /^store layout 6 is not 5/ });
  } finally {
    chain.cleanup();
  }
});

test('entries of an older store (LevelDB "P" keys) move to the write-ahead files and commit', async () => {
  const chain = makeTestChain({ meters: 1 });
  try {
    const [a] = chain.meterIds as [string];
    let node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
    await node.close(); // a store with genesis stamped
    await withDb(dataPaths(chain.dataDir).store, async (db) => {
      await db.put(Keys.pending(7), chain.reading(a, 1));
      await db.put(Keys.pending(8), chain.reading(a, 2));
    });

    // Started with a block interval too long to commit: the entries must be in the files.
    node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 3_600_000, verifyWorkers: 0 });
    const walDir = dataPaths(chain.dataDir).wal;
    const moved = (await Promise.all(segFiles(walDir).map((n) => readFileSync(join(walDir, n))))).reduce((n, b) => n + b.length, 0);
    assert.ok(moved > 2 * 100, `moved into ${segFiles(walDir)}`);
    await node.close(); // commits what waits (a clean stop)
    const left = await withDb(dataPaths(chain.dataDir).store, (db) => db.keys(Keys.range('P')).all());
    assert.equal(left.length, 0, 'no LevelDB write-ahead keys left');
    node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
    await until('moved entries committed', async () => (await node.readings(a, 0n, 10)).length === 2, 5000);
    await node.close();
    assert.equal(existsSync(walDir), true);
  } finally {
    chain.cleanup();
  }
});
