/**
 * The layout version of a LevelDB store (key F, ./keys.ts) and the steps that bring an
 * older one up to date when it opens:
 *   absent (0.1)  ./migrate-0.1.ts: meters under R, reading index widened; then as 2
 *   2             the transaction index (X: hash -> place; T: subject -> places), built
 *                 from the stored blocks once
 *   3             the same pass again: period key transactions gained their
 *                 period-key/<meter>/<keyId> subject (protocols/subjects.ts); rewriting
 *                 the entries already there is harmless
 * Each step is idempotent (a crash during one is finished at the next open); F is
 * written last. A store of a later layout than this version knows is refused, never
 * rewritten.
 */
import { ProtocolError, decodeAnyTx, decodeBlock, decodeCbor, encodeCbor, txSubjects } from '../../protocols/index.js';
import { encodeTxPosition } from './codec.js';
import { type Db, Keys, type Op, heightOfKey } from './keys.js';
import { moveMeters, widenIndex } from './migrate-0.1.js';
import type { IndexedTx } from './store.js';

/** The layout ./keys.ts describes. */
export const LAYOUT = 4;
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
  await indexTransactions(db);
  await db.put(Keys.format, encodeCbor(LAYOUT), { sync: true });
}

/** The transaction index entries of block `height`'s transactions (part of its commit batch). */
export function txIndexOps(height: number, txs: readonly IndexedTx[]): Op[] {
  const ops: Op[] = [];
  txs.forEach((t, index) => {
    ops.push({ type: 'put', key: Keys.tx(t.hash), value: encodeTxPosition({ height, index }) });
    for (const s of t.subjects) ops.push({ type: 'put', key: Keys.about(s, height, index), value: t.hash });
  });
  return ops;
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
