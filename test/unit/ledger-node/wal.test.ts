import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LedgerNode } from '../../../ledger-node/node.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { SEGMENT_BYTES, WAL_MAGIC, WriteAheadLog, encodeRecord } from '../../../ledger-node/store/wal.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { until } from '../../helpers/until.js';
import { auditInMemory, inMemory } from '../../helpers/memory-store.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'meterledger-wal-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const entry = (no: number, size = 100): { no: number; bytes: Uint8Array } => ({ no, bytes: new Uint8Array(size).fill(no % 251) });
const segFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();

describe('write-ahead log files', () => {
  test('entries appended come back in order at the next open, above which new numbers start', async () => {
    const dir = tmp();
    const { wal } = await WriteAheadLog.open(dir);
    await wal.append([entry(1), entry(2)]);
    await wal.append([entry(3, 5)]);
    await wal.close();
    const again = await WriteAheadLog.open(dir);
    const got = again.segments.flatMap((s) => s.entries);
    assert.deepEqual(got.map((e) => e.no), [1, 2, 3]);
    assert.deepEqual(got[2]!.bytes, entry(3, 5).bytes);
    assert.equal(again.wal.nextNo, 4);
    assert.equal(again.wal.liveEntries, 3);
    await again.wal.close();
  });

  test('a segment goes once every entry in it is released; a clean close leaves nothing behind', async () => {
    const dir = tmp();
    const { wal } = await WriteAheadLog.open(dir);
    // Entries of ~100 KB: a segment (1 MiB) holds about ten.
    const big = SEGMENT_BYTES / 10;
    for (let no = 1; no <= 25; no++) await wal.append([entry(no, big)]);
    const files = segFiles(dir);
    assert.equal(files.length, 3, `${files}`);
    wal.release([1, 2, 3, 4, 5]); // half of the first segment
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(segFiles(dir).length, 3, 'a segment with live entries stays');
    wal.release([6, 7, 8, 9, 10, 11]);
    await until('first segment deleted', () => segFiles(dir).length === 2, 2000);
    assert.equal(segFiles(dir)[0], files[1]);
    wal.release(Array.from({ length: 14 }, (_, i) => 12 + i));
    await wal.close();
    assert.deepEqual(segFiles(dir), [], 'all released and closed: no segment left');
  });

  test('entries released while a full segment is being closed still free it', async () => {
    const dir = tmp();
    const { wal } = await WriteAheadLog.open(dir);
    for (let no = 1; no <= 10; no++) await wal.append([entry(no, SEGMENT_BYTES / 10)]); // the first segment is full
    const appending = wal.append([entry(11)]); // closes it (awaiting) and starts the next
    wal.release(Array.from({ length: 10 }, (_, i) => i + 1)); // during that close
    await appending;
    await until('the full segment deleted', () => segFiles(dir).length === 1, 2000);
    wal.release([11]);
    await wal.close();
    assert.deepEqual(segFiles(dir), []);
  });

  test('a record cut short at the end (a crash mid-write) is ignored; earlier ones are kept', async () => {
    const dir = tmp();
    const { wal } = await WriteAheadLog.open(dir);
    await wal.append([entry(1), entry(2)]);
    await wal.append([entry(3)]);
    await wal.close();
    const f = join(dir, segFiles(dir)[0]!);
    truncateSync(f, readFileSync(f).length - 7);
    const again = await WriteAheadLog.open(dir);
    assert.deepEqual(again.segments.flatMap((s) => s.entries).map((e) => e.no), [1, 2]);
    assert.ok(again.segments[0]!.tornBytes > 0);
    await again.wal.close();
    // Zeros after the last record (a file extended, its data never written) are a torn write too.
    writeFileSync(f, Buffer.concat([readFileSync(f), Buffer.alloc(4096)]));
    const zeros = await WriteAheadLog.open(dir);
    assert.deepEqual(zeros.segments.flatMap((s) => s.entries).map((e) => e.no), [1, 2]);
    await zeros.wal.close();
  });

  test('damage before the last record refuses to open with E_STORE_CORRUPT naming segment and offset', async () => {
    const dir = tmp();
    const { wal } = await WriteAheadLog.open(dir);
    await wal.append([entry(1), entry(2)]);
    await wal.append([entry(3)]);
    await wal.close();
    const name = segFiles(dir)[0]!;
    const b = readFileSync(join(dir, name));
    b[40]! ^= 0x01; // inside the first record's payload
    writeFileSync(join(dir, name), b);
    await assert.rejects(WriteAheadLog.open(dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_STORE_CORRUPT');
      assert.match(e.message, new RegExp(`${name}: record fails its checksum at offset 8`));
      return true;
    });
    // A damaged length: the record seems to run past the end, but a sound one follows.
    b[40]! ^= 0x01;
    b[8]! ^= 0x01;
    writeFileSync(join(dir, name), b);
    await assert.rejects(WriteAheadLog.open(dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_STORE_CORRUPT');
      assert.match(e.message, new RegExp(`${name}: record length runs past the end of the segment, with sound records after it at offset 8`));
      return true;
    });
    writeFileSync(join(dir, name), Buffer.from('not a segment at all'));
    await assert.rejects(WriteAheadLog.open(dir), /E_STORE_CORRUPT|wrong magic/);
  });
});

describe('write-ahead recovery in the ledger node', () => {
  test('readings left in the write-ahead are recovered and committed at start; entries already in blocks are dropped', async () => {
    const chain = makeTestChain({ meters: 2 });
    try {
      const [a, b] = chain.meterIds as [string, string];
      // A chain with a's readings 1-3 committed.
      let node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
      for (let s = 1; s <= 3; s++) await node.intake.submit(chain.reading(a, s), { meterId: a, transport: 'mqtt' });
      await until('a 1-3 committed', async () => (await node.readings(a, 0n, 10)).length === 3, 5000);
      await node.close();
      const walDir = dataPaths(chain.dataDir).wal;
      assert.deepEqual(segFiles(walDir), [], 'everything committed: the write-ahead is empty after a clean stop');

      // What a crash leaves: a segment holding a committed reading (a 3) and accepted ones (a 4, b 1).
      const { wal } = await WriteAheadLog.open(walDir);
      await wal.append([{ no: 10, bytes: chain.reading(a, 3) }, { no: 11, bytes: chain.reading(a, 4) }, { no: 12, bytes: chain.reading(b, 1) }]);
      await wal.close();

      node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 10, verifyWorkers: 0 });
      await until('recovered readings committed', async () => (await node.readings(a, 0n, 10)).length === 4 && (await node.readings(b, 0n, 10)).length === 1, 5000);
      // New entries are numbered above everything read, so segments never share a number.
      assert.equal((await node.intake.submit(chain.reading(b, 2), { meterId: b, transport: 'mqtt' })).status, 'accepted');
      await until('b 2 committed', async () => (await node.readings(b, 0n, 10)).length === 2, 5000);
      await node.close();
      assert.deepEqual(segFiles(walDir), [], 'all committed: segments deleted');
      const r = await auditInMemory(chain.dataDir, chain.genesis);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.ok && r.txs, 6);
    } finally {
      chain.cleanup();
    }
  });

  test('a forged entry in the write-ahead refuses start and fails the audit', async () => {
    const chain = makeTestChain({ meters: 2 });
    try {
      const [a, b] = chain.meterIds as [string, string];
      const { wal } = await WriteAheadLog.open(dataPaths(chain.dataDir).wal);
      // a's reading signed with b's key
      await wal.append([{ no: 5, bytes: chain.reading(a, 1, { key: chain.meterKeys.get(b)! }) }]);
      await wal.close();
      await assert.rejects(LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, verifyWorkers: 0 }), { code: 'E_STORE_CORRUPT', message: /^write-ahead entry 5: signature does not verify/ });
      const r = await auditInMemory(chain.dataDir, chain.genesis);
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.reason : '', /write-ahead entry 5: signature does not verify/);
    } finally {
      chain.cleanup();
    }
  });

  test('encodeRecord round-trips entry numbers above 2^32', async () => {
    const dir = tmp();
    writeFileSync(join(dir, '000000000001.wal'), Buffer.concat([WAL_MAGIC, encodeRecord([entry(2 ** 40 + 3, 4)])]));
    const { wal, segments } = await WriteAheadLog.open(dir);
    assert.equal(segments[0]!.entries[0]!.no, 2 ** 40 + 3);
    assert.equal(wal.nextNo, 2 ** 40 + 4);
    await wal.close();
  });
});
