import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { LedgerNode } from '../../../ledger-node/node.js';
import { auditStore } from '../../../ledger-node/audit.js';
import { Keys } from '../../../ledger-node/store/keys.js';
import { decodeHead, decodeIndexEntry, decodeMeterRecord, encodeHead, encodeIndexEntry, encodeMeterRecord } from '../../../ledger-node/store/codec.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

describe('verify: altering any stored value is found and named', () => {
  let chain: TestChain;
  const copies: string[] = [];
  before(async () => {
    chain = makeTestChain({ meters: 2 });
    const node = await LedgerNode.open({ dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, blockMaxTxs: 4, verifyWorkers: 0 });
    const [a, b] = chain.meterIds;
    for (let s = 1; s <= 6; s++) {
      await node.intake.submit(chain.reading(a!, s), { meterId: a!, transport: 'mqtt' });
      await node.intake.submit(chain.reading(b!, s), { meterId: b!, transport: 'mqtt' });
    }
    await node.close();
  });
  after(() => {
    for (const c of copies) rmSync(c, { recursive: true, force: true });
    chain.cleanup();
  });

  /** Audit a copy of the store after `tamper` changed it. */
  async function auditAfter(tamper: (db: Db) => Promise<void>) {
    const dir = mkdtempSync(join(tmpdir(), 'meterledger-tamper-'));
    copies.push(dir);
    cpSync(chain.dataDir, dir, { recursive: true });
    const db: Db = new ClassicLevel(join(dir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    await tamper(db);
    await db.close();
    return auditStore(dir, chain.genesis);
  }

  test('the untouched store verifies', async () => {
    const r = await auditStore(chain.dataDir, chain.genesis);
    assert.equal(r.ok, true);
    assert.ok(r.height >= 3);
    assert.equal(r.ok && r.txs, 12);
  });

  test('a flipped byte in a stored transaction fails at that block', async () => {
    const r = await auditAfter(async (db) => {
      const v = (await db.get(Keys.block(2)))!;
      v[v.length - 5] ^= 0x01;
      await db.put(Keys.block(2), v);
    });
    assert.equal(r.ok, false);
    assert.equal(r.height, 2);
    assert.match(!r.ok ? r.reason : '', /txRoot|decode|signature/);
  });

  test('a forged commit signature fails at that block', async () => {
    const r = await auditAfter(async (db) => {
      const v = (await db.get(Keys.commit(1)))!;
      v[v.length - 1] ^= 0x80;
      await db.put(Keys.commit(1), v);
    });
    assert.deepEqual([r.ok, r.height], [false, 1]);
    assert.match(!r.ok ? r.reason : '', /commit/);
  });

  test('a deleted block is named as missing', async () => {
    const r = await auditAfter((db) => db.del(Keys.block(2)));
    assert.deepEqual([r.ok, r.height], [false, 2]);
    assert.match(!r.ok ? r.reason : '', /missing/);
  });

  test('a rewound meter sequence in the registry is found', async () => {
    const id = chain.meterIds[0]!;
    const r = await auditAfter(async (db) => {
      const rec = decodeMeterRecord((await db.get(Keys.record('meter', id)))!, id);
      await db.put(Keys.record('meter', id), encodeMeterRecord({ ...rec, lastSeq: 2n }));
    });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', new RegExp(`registry.*${id}`));
  });

  test('a reading index that points elsewhere is found', async () => {
    const id = chain.meterIds[1]!;
    const r = await auditAfter(async (db) => {
      const cur = decodeIndexEntry((await db.get(Keys.reading(id, 1n)))!, 1n, id);
      await db.put(Keys.reading(id, 1n), encodeIndexEntry({ ...cur, height: 3, index: 0 }));
    });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /index/);
  });

  test('a reading index whose register value differs from the block is found', async () => {
    const id = chain.meterIds[1]!;
    const r = await auditAfter(async (db) => {
      const cur = decodeIndexEntry((await db.get(Keys.reading(id, 2n)))!, 2n, id);
      await db.put(Keys.reading(id, 2n), encodeIndexEntry({ ...cur, importWh: cur.importWh! + 1 }));
    });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', new RegExp(`index: ${id}/2 says`));
  });

  test('a head pointer moved back is found', async () => {
    const r = await auditAfter(async (db) => {
      await db.put(Keys.head, encodeHead(1, new Uint8Array(32)));
    });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /head pointer/);
  });

  test('a forged write-ahead entry of an older store (LevelDB) is found', async () => {
    const r = await auditAfter((db) => db.put(Keys.pending(999), chain.reading(chain.meterIds[0]!, 99, { key: chain.meterKeys.get(chain.meterIds[1]!)! })));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /write-ahead entry 999/);
  });

  test('a node refuses to start on a store whose head block was altered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meterledger-tamper-'));
    copies.push(dir);
    cpSync(chain.dataDir, dir, { recursive: true });
    const db: Db = new ClassicLevel(join(dir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const head = (await db.get(Keys.head))!;
    const h = decodeHead(head).height;
    const v = (await db.get(Keys.block(h)))!;
    v[10] ^= 1;
    await db.put(Keys.block(h), v);
    await db.close();
    await assert.rejects(LedgerNode.open({ dataDir: dir, genesis: chain.genesis, verifyWorkers: 0 }), { code: 'E_STORE_CORRUPT' });
  });
});
