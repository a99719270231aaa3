/**
 * The layout version of a LevelDB store (key F, ./keys.ts) and the steps that bring an
 * older one up to date when it opens:
 *   absent (0.1)  ./migrate-0.1.ts: meters under R, reading index widened; then as 2
 *   2             the transaction index (X: hash -> place; T: subject -> places), built
 *                 from the stored blocks once
 *   3             the same pass again: period key transactions gained their
 *                 period-key/<meter>/<keyId> subject (protocols/subjects.ts); rewriting
 *                 the entries already there is harmless
 *   4             the reading history (J: meter, day, height -> that block's readings of
 *                 the meter that day), built once from the reading index (I), meter by
 *                 meter
 * Each step is idempotent (a crash during one is finished at the next open); F is
 * written last. A store of a later layout than this version knows is refused, never
 * rewritten.
 */
import { ProtocolError, decodeAnyTx, decodeBlock, decodeCbor, encodeCbor, txSubjects } from '../../protocols/index.js';
import { decodeIndexEntry, encodeHistoryValue, encodeTxPosition, historyGroups } from './codec.js';
import { type Db, Keys, type Op, heightOfKey, meterIdOfReadingKey, seqOfReadingKey } from './keys.js';
import { moveMeters, widenIndex } from './migrate-0.1.js';
import type { IndexedReading, IndexedTx } from './store.js';

/** The layout ./keys.ts describes. */
export const LAYOUT = 5;
/** Operations per batch while rewriting (a big store is not rewritten in one). */
export const CHUNK = 10_000;

/** The layout of an open store: 1 for a 0.1 store (or a new one not stamped yet). */
async function layoutOf(db: Db): Promise<number> {
  const f = await db.get(Keys.format);
  if (f === undefined) return 1;
  const v = decodeCbor(f);
  if (typeof v !== 'number' || v > LAYOUT || v < 2) throw new ProtocolError('E_STORE_LAYOUT', `store layout ${String(v)} is not ${LAYOUT}, which this version reads`);
  return v;
}

/** Whether the store needs migrateLayout. */
export async function needsMigration(db: Db): Promise<boolean> {
  return (await layoutOf(db)) < LAYOUT;
}

/** Bring a store opened at LevelStore.open to LAYOUT. */
export async function migrateLayout(db: Db): Promise<void> {
  const from = await layoutOf(db);
  if (from >= LAYOUT) return;
  if (from < 2) {
    await moveMeters(db);
    await widenIndex(db);
  }
  if (from < 4) await indexTransactions(db);
  await buildHistory(db);
  await db.put(Keys.format, encodeCbor(LAYOUT), { sync: true });
}

/** The transaction index entries of block `height`'s transactions (part of its commit batch). */
export function* txIndexOps(height: number, txs: readonly IndexedTx[]): Generator<Op> {
  for (let index = 0; index < txs.length; index++) {
    const t = txs[index]!;
    yield { type: 'put', key: Keys.tx(t.hash), value: encodeTxPosition({ height, index }) };
    for (const s of t.subjects) yield { type: 'put', key: Keys.about(s, height, index), value: t.hash };
  }
}

/** The reading history entries of block `height`'s readings (part of its commit batch): one per meter per UTC day. */
export function* historyOps(height: number, readings: readonly (IndexedReading & { readonly meterId: string })[]): Generator<Op> {
  for (const [meterId, days] of historyGroups(readings)) {
    for (const [day, rows] of days) yield { type: 'put', key: Keys.history(meterId, day, height), value: encodeHistoryValue(rows) };
  }
}

/** Layout 4 -> 5: the reading history from the reading index, one meter at a time (idempotent puts of whole values). */
async function buildHistory(db: Db): Promise<void> {
  let ops: Op[] = [];
  let meter: string | undefined;
  let rows: (IndexedReading & { meterId: string })[] = [];
  const flushMeter = async (): Promise<void> => {
    // Grouped by height, so each (meter, day, height) value is whole, as commitBlock writes it.
    const byHeight = new Map<number, (IndexedReading & { meterId: string })[]>();
    for (const r of rows) {
      let l = byHeight.get(r.height);
      if (!l) byHeight.set(r.height, (l = []));
      l.push(r);
    }
    for (const [height, l] of byHeight) ops.push(...historyOps(height, l.sort((a, b) => a.index - b.index)));
    rows = [];
    if (ops.length >= CHUNK) {
      await db.batch(ops, { sync: true });
      ops = [];
    }
  };
  for await (const [k, v] of db.iterator(Keys.range('I'))) {
    const meterId = meterIdOfReadingKey(k);
    const seq = seqOfReadingKey(k);
    if (meterId !== meter) {
      await flushMeter();
      meter = meterId;
    }
    rows.push({ meterId, ...decodeIndexEntry(v, seq, `index of ${meterId}/${seq}`) });
  }
  await flushMeter();
  if (ops.length) await db.batch(ops, { sync: true });
}

/** Layout 2 or 3 -> 4: index every stored block's transactions (idempotent puts). */
async function indexTransactions(db: Db): Promise<void> {
  let ops: Op[] = [];
  for await (const [k, v] of db.iterator(Keys.range('B'))) {
    const height = heightOfKey(k);
    let txs: IndexedTx[];
    try {
      txs = decodeBlock(v).txs.map((bytes) => {
        const tx = decodeAnyTx(bytes, Infinity);
        return { hash: tx.hash, subjects: txSubjects(tx.body) };
      });
    } catch (cause) {
      throw new ProtocolError('E_STORE_CORRUPT', `block ${height} does not decode: ${(cause as Error).message}`, { cause });
    }
    ops.push(...txIndexOps(height, txs));
    if (ops.length >= CHUNK) {
      await db.batch(ops, { sync: true });
      ops = [];
    }
  }
  if (ops.length) await db.batch(ops, { sync: true });
}
