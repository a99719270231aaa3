/**
 * Stores written by meterledger 0.1, brought to layout 2 (./layout.ts goes on from
 * there). All of 0.1's layout is known here and nowhere else: when no 0.1 store is left
 * to open, delete this file and its calls (./layout.ts, and the write-ahead recovery).
 *
 *   M<meterId>          meter records   -> R meter\0<meterId> (the same CBOR value)
 *   I<meter>\0<seq>     [height, index] -> [height, index, time, importWh, exportWh?],
 *                                          read from the reading's block once
 *   P<no u64be>         write-ahead     -> the files of <data>/wal/ (store/wal.ts), moved
 *                                          by the node's write-ahead recovery
 *
 * Each step is idempotent: a crash during the move is finished at the next open; the
 * layout version key F is written last (./layout.ts).
 */
import { ProtocolError, StateKind, TxType, decodeBlock, decodeCbor, decodeTx } from '../../protocols/index.js';
import { encodeIndexEntry } from './codec.js';
import { type Db, Keys, type Op, meterIdOfMeterKey01, meterIdOfReadingKey, pendingNoOfKey, seqOfReadingKey } from './keys.js';
import type { LedgerStore } from './store.js';
import type { WalEntry, WriteAhead } from './wal.js';

/** Operations per batch while moving (a big store is not moved in one). */
const CHUNK = 10_000;

const corrupt = (why: string): ProtocolError => new ProtocolError('E_STORE_CORRUPT', `0.1 store: ${why}`);

async function flushing(db: Db, ops: Op[], force = false): Promise<void> {
  if (ops.length && (force || ops.length >= CHUNK)) await db.batch(ops.splice(0), { sync: true });
}

/** M<meterId> -> R meter\0<meterId>. */
export async function moveMeters(db: Db): Promise<void> {
  const ops: Op[] = [];
  for await (const [k, v] of db.iterator(Keys.range('M'))) {
    ops.push({ type: 'put', key: Keys.record(StateKind.Meter, meterIdOfMeterKey01(k)), value: v }, { type: 'del', key: k });
    await flushing(db, ops);
  }
  await flushing(db, ops, true);
}

/** I entries [height, index] -> [height, index, time, importWh, exportWh?]. */
export async function widenIndex(db: Db): Promise<void> {
  const ops: Op[] = [];
  let cached: { height: number; txs: readonly Uint8Array[] } | undefined;
  for await (const [k, v] of db.iterator(Keys.range('I'))) {
    const entry = decodeCbor(v);
    if (!Array.isArray(entry) || entry.length !== 2) continue; // already widened (a crash while moving)
    const [height, index] = entry as [number, number];
    const meterId = meterIdOfReadingKey(k);
    const seq = seqOfReadingKey(k);
    if (cached?.height !== height) {
      const raw = await db.get(Keys.block(height));
      if (!raw) throw corrupt(`index of ${meterId}/${seq} points to missing block ${height}`);
      cached = { height, txs: decodeBlock(raw).txs };
    }
    const bytes = cached.txs[index];
    if (!bytes) throw corrupt(`index of ${meterId}/${seq} points past block ${height}`);
    const tx = decodeTx(bytes, Infinity);
    if (tx.body.type !== TxType.Reading || tx.body.meterId !== meterId || tx.body.seq !== seq) throw corrupt(`index of ${meterId}/${seq} points to another transaction`);
    const r = tx.body;
    ops.push({ type: 'put', key: k, value: encodeIndexEntry({ height, index, time: r.time, importWh: r.importWh, ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}) }) });
    await flushing(db, ops);
  }
  await flushing(db, ops, true);
}

/** A LevelStore: the only store that can hold 0.1 write-ahead keys. */
function levelDb(store: LedgerStore): Db | undefined {
  return 'db' in store ? (store as { db: Db }).db : undefined;
}

/** Write-ahead entries a 0.1 store keeps in LevelDB (none in any other). */
export async function legacyWriteAhead(store: LedgerStore): Promise<WalEntry[]> {
  const db = levelDb(store);
  const out: WalEntry[] = [];
  if (db) for await (const [k, v] of db.iterator(Keys.range('P'))) out.push({ no: pendingNoOfKey(k), bytes: v });
  return out;
}

/**
 * Move a 0.1 store's write-ahead entries to the write-ahead files: those not there yet (a
 * crash while moving) are appended, then the keys go. Returns the entries appended.
 */
export async function moveLegacyWriteAhead(store: LedgerStore, wal: WriteAhead, inWal: ReadonlySet<number>): Promise<WalEntry[]> {
  const all = await legacyWriteAhead(store);
  if (!all.length) return [];
  const moving = all.filter((e) => !inWal.has(e.no));
  await wal.append(moving);
  await levelDb(store)!.batch(all.map((e) => ({ type: 'del' as const, key: Keys.pending(e.no) })), { sync: true });
  return moving;
}
