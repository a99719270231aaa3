/**
 * The store (./store.ts) in one classic-level (LevelDB) database: what a gateway runs.
 * The key layout (./keys.ts) is this file's own; nothing else reads raw keys. A store of
 * an older layout is brought up to date when it opens (./layout.ts).
 */
import { ClassicLevel } from 'classic-level';
import { accessSync, chmodSync, constants, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StateChange, toHex } from '../../protocols/index.js';
import { errnoOf, fsCodeOf, fsError, fsReason } from '../fs-errors.js';
import {
  DAY_MS, dayOf, decodeHead, decodeHistoryValue, decodeIndexEntry, decodeStateValue, decodeTxPosition, encodeHead, encodeIndexEntry, encodeStateValue, encodeTxPosition,
} from './codec.js';
import {
  type Db, Keys, type Op, dayHeightOfHistoryKey, heightOfKey, kindIdOfRecordKey, meterIdOfReadingKey, ofHistoryKey, positionOfAboutKey, seqOfReadingKey,
} from './keys.js';
import { historyOps, migrateLayout, needsMigration, txIndexOps } from './layout.js';
import { ACCEPT_PATH_BEFORE } from '../latency-probe.js';
import {
  type BlockWrite, type ConsensusWrite, type IndexedReading, type LedgerStore, StoreError, type TxPosition, readingsBetween, withinTimes,
} from './store.js';

/** Entries taken from LevelDB at once by a range read of the reading index. */
const READ_BATCH = 1024;
/** Operations of a block's batch handed to LevelDB per turn of the event loop. */
const BATCH_SLICE = 512;

/** What a block's commit writes, made as it is taken (the order is that of one batch: later puts win). */
function* blockOps(w: BlockWrite): Generator<Op> {
  yield { type: 'put', key: Keys.block(w.height), value: w.blockBytes };
  yield { type: 'put', key: Keys.commit(w.height), value: w.commitBytes };
  yield { type: 'put', key: Keys.head, value: encodeHead(w.height, w.hash) };
  for (const r of w.readings) yield { type: 'put', key: Keys.reading(r.meterId, r.seq), value: encodeIndexEntry(r) };
  yield* historyOps(w.height, w.readings);
  yield* txIndexOps(w.height, w.txs);
  for (const c of w.changes) yield recordOp(c);
}

async function openDb(path: string, create: boolean): Promise<Db> {
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: create });
  try {
    await db.open();
  } catch (cause) {
    const code = (cause as { code?: string; cause?: { code?: string } }).cause?.code ?? (cause as { code?: string }).code;
    if (code === 'LEVEL_LOCKED') throw new StoreError('E_STORE_LOCKED', `store ${path} is in use by another process`, { cause });
    // Name the real cause (a read-only disk, missing rights) with its stable code.
    if (fsCodeOf(cause)) throw fsError(cause, `cannot open the store ${path}`);
    throw new StoreError('E_STORE_OPEN', `cannot open store ${path}: ${(cause as { cause?: Error }).cause?.message ?? (cause as Error).message}`, { cause });
  }
  return db;
}

/** Why LevelDB could not open `dir` in place (it writes LOCK, LOG and a new MANIFEST), or undefined. */
function notWritable(dir: string): string | undefined {
  for (const p of [dir, ...readdirSync(dir).map((f) => join(dir, f))]) {
    try {
      accessSync(p, constants.W_OK);
    } catch (e) {
      return `${p}: ${fsReason(e)}`;
    }
  }
  return undefined;
}

export interface StoreOpenOptions {
  /**
   * For audits of a copy that must not change (a backup, a snapshot, a read-only mount):
   * never create a store, and when LevelDB cannot open it in place (it always writes LOCK
   * and LOG), or it is of an older layout (./layout.ts rewrites it), open a temporary
   * copy instead, removed again by close().
   */
  readonly readOnly?: boolean;
  /** Told before a temporary copy is made. */
  readonly onCopy?: (copy: { readonly from: string; readonly to: string; readonly bytes: number; readonly why: string }) => void;
}

/** errno names that mean "this place may not be written". */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

const recordOp = (c: StateChange): Op => (c.value === null
  ? { type: 'del', key: Keys.record(c.kind, c.id) }
  : { type: 'put', key: Keys.record(c.kind, c.id), value: encodeStateValue(c.kind, c.value) });

export class LevelStore implements LedgerStore {
  private evidenceNo = 0;

  private constructor(
    /** For ./migrate-0.1.ts only: the write-ahead keys of a 0.1 store. */
    readonly db: Db,
    private readonly tempCopy?: string,
  ) {}

  static async open(path: string, o: StoreOpenOptions = {}): Promise<LevelStore> {
    if (!o.readOnly) return LevelStore.migrated(await openDb(path, true));
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('E_STORE_MISSING', `no store at ${path}`, { cause: e });
      throw fsError(e, `cannot open the store ${path}`);
    }
    if (!st.isDirectory()) throw new StoreError('E_STORE_MISSING', `${path} is not a store folder`);
    let why = notWritable(path);
    if (why === undefined) {
      let db: Db | undefined;
      try {
        db = await openDb(path, false);
      } catch (e) {
        if (!NOT_WRITABLE.has(errnoOf(e) ?? '')) throw e;
        why = fsReason(e);
      }
      if (db) {
        const older = await needsMigration(db).catch(async (e: unknown) => {
          await db.close().catch(() => {});
          throw e;
        });
        if (!older) return new LevelStore(db);
        await db.close();
        why = 'it is of an older layout, which opening rewrites';
      }
    }
    const copy = mkdtempSync(join(tmpdir(), 'meterledger-audit-'));
    try {
      const bytes = readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0);
      o.onCopy?.({ from: path, to: copy, bytes, why: why ?? 'it cannot be opened in place' });
      cpSync(path, copy, { recursive: true });
      chmodSync(copy, 0o700);
      for (const f of readdirSync(copy)) chmodSync(join(copy, f), 0o600); // copies keep a read-only source's modes
      return await LevelStore.migrated(await openDb(copy, false), copy);
    } catch (e) {
      rmSync(copy, { recursive: true, force: true });
      throw fsCodeOf(e) ? fsError(e, `cannot copy the store ${path} to ${copy}`) : e;
    }
  }

  private static async migrated(db: Db, tempCopy?: string): Promise<LevelStore> {
    try {
      await migrateLayout(db);
    } catch (e) {
      await db.close().catch(() => {});
      throw e;
    }
    return new LevelStore(db, tempCopy);
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.tempCopy) rmSync(this.tempCopy, { recursive: true, force: true });
  }

  genesisHash = (): Promise<Uint8Array | undefined> => this.db.get(Keys.genesis);

  async setGenesisHash(h: Uint8Array): Promise<void> {
    await this.db.put(Keys.genesis, h, { sync: true });
  }

  async head(): Promise<{ height: number; hash: Uint8Array } | undefined> {
    const b = await this.db.get(Keys.head);
    return b === undefined ? undefined : decodeHead(b);
  }

  blockBytes = (h: number): Promise<Uint8Array | undefined> => this.db.get(Keys.block(h));
  commitBytes = (h: number): Promise<Uint8Array | undefined> => this.db.get(Keys.commit(h));

  async *blocks(): AsyncIterable<{ height: number; bytes: Uint8Array }> {
    for await (const [k, v] of this.db.iterator(Keys.range('B'))) yield { height: heightOfKey(k), bytes: v };
  }

  async *commitHeights(): AsyncIterable<number> {
    for await (const k of this.db.keys(Keys.range('C'))) yield heightOfKey(k);
  }

  async commitBlock(w: BlockWrite): Promise<void> {
    if (ACCEPT_PATH_BEFORE) return this.db.batch([...blockOps(w)], { sync: true });
    // One atomic, synced batch as before, its operations made and handed to LevelDB a slice at
    // a time: a block's thousands of operations at once held the event loop (and every PUBACK)
    // for tens of ms, and so did making their keys and values before the first slice.
    const batch = this.db.batch();
    try {
      let i = 0;
      for (const op of blockOps(w)) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
        if (++i % BATCH_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
    } catch (e) {
      await batch.close().catch(() => undefined);
      throw e;
    }
    await batch.write({ sync: true });
  }

  async *stateRecords(): AsyncIterable<StateChange> {
    for await (const [k, v] of this.db.iterator(Keys.range('R'))) {
      const { kind, id } = kindIdOfRecordKey(k);
      yield { kind, id, value: decodeStateValue(kind, v, `${kind} "${id}"`) };
    }
  }

  async saveState(changes: readonly StateChange[]): Promise<void> {
    if (changes.length) await this.db.batch(changes.map(recordOp), { sync: true });
  }

  async readingPosition(meterId: string, seq: bigint): Promise<IndexedReading | undefined> {
    const v = await this.db.get(Keys.reading(meterId, seq));
    return v === undefined ? undefined : decodeIndexEntry(v, seq, `index of ${meterId}/${seq}`);
  }

  async *readingPositions(meterId: string, fromSeq: bigint): AsyncIterable<IndexedReading> {
    const r = Keys.range('I', Keys.readingsOf(meterId).subarray(1));
    // One bounded range read, taken in batches (a bill loads a meter's month, ~3,000 entries).
    const it = this.db.iterator({ gte: Keys.reading(meterId, fromSeq), lt: r.lt });
    try {
      for (;;) {
        const batch = await it.nextv(READ_BATCH);
        if (batch.length === 0) return;
        for (const [k, v] of batch) {
          const seq = seqOfReadingKey(k);
          yield decodeIndexEntry(v, seq, `index of ${meterId}/${seq}`);
        }
      }
    } finally {
      await it.close();
    }
  }

  readingsBetween(meterId: string, fromMs: number, toMs: number): Promise<IndexedReading[]> {
    return readingsBetween(this, meterId, fromMs, toMs);
  }

  async readingHistory(meterId: string, fromMs?: number, toMs?: number): Promise<IndexedReading[]> {
    const all = Keys.range('J', Keys.historyOf(meterId).subarray(1));
    const gte = fromMs === undefined ? all.gte : Keys.historyFrom(meterId, dayOf(Math.max(0, fromMs)));
    const lt = toMs === undefined || toMs >= 2 ** 32 * DAY_MS ? all.lt : Keys.historyFrom(meterId, dayOf(Math.max(0, toMs)) + 1);
    const out: IndexedReading[] = [];
    // One range read (a month of a meter is ~300 values at 10 quarter hours a block).
    for (const [k, v] of await this.db.iterator({ gte, lt }).all()) {
      const { day, height } = dayHeightOfHistoryKey(k);
      for (const r of decodeHistoryValue(v, height, day, `reading history of ${meterId}`)) out.push(r);
    }
    return fromMs === undefined && toMs === undefined ? out : withinTimes(out, fromMs ?? 0, toMs ?? Number.MAX_SAFE_INTEGER);
  }

  async *readingHistoryIndex(): AsyncIterable<IndexedReading & { meterId: string }> {
    for await (const [k, v] of this.db.iterator(Keys.range('J'))) {
      const { meterId, day, height } = ofHistoryKey(k);
      for (const r of decodeHistoryValue(v, height, day, `reading history of ${meterId}`)) yield { meterId, ...r };
    }
  }

  async *readingIndex(): AsyncIterable<IndexedReading & { meterId: string }> {
    for await (const [k, v] of this.db.iterator(Keys.range('I'))) {
      const meterId = meterIdOfReadingKey(k);
      const seq = seqOfReadingKey(k);
      yield { meterId, ...decodeIndexEntry(v, seq, `index of ${meterId}/${seq}`) };
    }
  }

  async txPosition(hash: Uint8Array): Promise<TxPosition | undefined> {
    const v = await this.db.get(Keys.tx(hash));
    return v === undefined ? undefined : decodeTxPosition(v, `transaction index of ${toHex(hash)}`);
  }

  async *txsAbout(subject: string): AsyncIterable<TxPosition & { hash: Uint8Array }> {
    for await (const [k, v] of this.db.iterator(Keys.range('T', Keys.aboutOf(subject).subarray(1)))) yield { ...positionOfAboutKey(k), hash: v };
  }

  async *txIndex(): AsyncIterable<TxPosition & { hash: Uint8Array }> {
    for await (const [k, v] of this.db.iterator(Keys.range('X'))) {
      const hash = k.subarray(1);
      yield { ...decodeTxPosition(v, `transaction index of ${toHex(hash)}`), hash };
    }
  }

  async saveConsensus(height: number, w: ConsensusWrite): Promise<void> {
    const ops: Op[] = [];
    if (w.state) ops.push({ type: 'put', key: Keys.safetyState(height), value: w.state });
    for (const b of w.blocks ?? []) ops.push({ type: 'put', key: Keys.recordBlock(height, b.hash), value: b.bytes });
    if (w.signed) ops.push({ type: 'put', key: Keys.signed(height, w.signed.round, w.signed.type), value: w.signed.bytes });
    if (ops.length) await this.db.batch(ops, { sync: true });
  }

  async loadConsensus(height: number): Promise<{ state: Uint8Array | undefined; blocks: Map<string, Uint8Array>; signed: Uint8Array[] }> {
    const signed: Uint8Array[] = [];
    for await (const [, v] of this.db.iterator(Keys.range('V', Keys.signedAt(height).subarray(1)))) signed.push(v);
    const blocks = new Map<string, Uint8Array>();
    for await (const [k, v] of this.db.iterator(Keys.range('L', Keys.atHeight('L', height).subarray(1)))) blocks.set(toHex(k.subarray(9)), v);
    return { state: await this.db.get(Keys.safetyState(height)), blocks, signed };
  }

  async pruneConsensus(height: number): Promise<void> {
    for (const family of ['V', 'S', 'L'] as const) await this.db.clear({ gte: Keys.range(family).gte, lt: Keys.atHeight(family, height) });
  }

  async putEvidence(bytes: Uint8Array): Promise<void> {
    await this.db.put(Keys.evidence(Date.now(), this.evidenceNo++), bytes);
  }

  async *evidence(): AsyncIterable<Uint8Array> {
    for await (const v of this.db.values(Keys.range('E'))) yield v;
  }
}

export const openLevelStore = (path: string): Promise<LedgerStore> => LevelStore.open(path);
