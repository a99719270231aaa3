/**
 * The block store: one classic-level (LevelDB) database behind a small interface.
 * Every write that matters is one atomic batch with sync (fsync) on.
 */
import { ClassicLevel } from 'classic-level';
import { accessSync, chmodSync, constants, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError, toHex } from '../../protocols/index.js';
import { errnoOf, fsCodeOf, fsError, fsReason } from '../fs-errors.js';
import type { MeterRecord } from '../rules.js';
import { decodeHead, decodeIndexEntry, decodeMeterRecord, encodeHead, encodeIndexEntry, encodeMeterRecord } from './codec.js';
import { Keys, heightOfKey, meterIdOfMeterKey, pendingNoOfKey, seqOfReadingKey } from './keys.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

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
type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export interface BlockWrite {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly blockBytes: Uint8Array;
  readonly commitBytes: Uint8Array;
  /** Readings in the block, with their leaf index. */
  readonly readings: readonly { meterId: string; seq: bigint; index: number }[];
  /** Meter records changed by the block, as they are after it. */
  readonly meters: ReadonlyMap<string, MeterRecord>;
}

export class StoreError extends ProtocolError {}

export interface StoreOpenOptions {
  /**
   * For audits of a copy that must not change (a backup, a snapshot, a read-only mount):
   * never create a store, and when LevelDB cannot open it in place (it always writes LOCK
   * and LOG) open a temporary copy instead, removed again by close().
   */
  readonly readOnly?: boolean;
  /** Told before a temporary copy is made. */
  readonly onCopy?: (copy: { readonly from: string; readonly to: string; readonly bytes: number; readonly why: string }) => void;
}

/** errno names that mean "this place may not be written". */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

export class LedgerStore {
  private constructor(private readonly db: Db, private readonly tempCopy?: string) {}

  static async open(path: string, o: StoreOpenOptions = {}): Promise<LedgerStore> {
    if (!o.readOnly) return new LedgerStore(await openDb(path, true));
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
      try {
        return new LedgerStore(await openDb(path, false));
      } catch (e) {
        if (!NOT_WRITABLE.has(errnoOf(e) ?? '')) throw e;
        why = fsReason(e);
      }
    }
    const copy = mkdtempSync(join(tmpdir(), 'meterledger-audit-'));
    try {
      const bytes = readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0);
      o.onCopy?.({ from: path, to: copy, bytes, why });
      cpSync(path, copy, { recursive: true });
      chmodSync(copy, 0o700);
      for (const f of readdirSync(copy)) chmodSync(join(copy, f), 0o600); // copies keep a read-only source's modes
      return new LedgerStore(await openDb(copy, false), copy);
    } catch (e) {
      rmSync(copy, { recursive: true, force: true });
      throw fsCodeOf(e) ? fsError(e, `cannot copy the store ${path} to ${copy}`) : e;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.tempCopy) rmSync(this.tempCopy, { recursive: true, force: true });
  }

  get = (k: Uint8Array): Promise<Uint8Array | undefined> => this.db.get(k);

  async genesisHash(): Promise<Uint8Array | undefined> {
    return this.db.get(Keys.genesis);
  }

  async setGenesisHash(h: Uint8Array): Promise<void> {
    await this.db.put(Keys.genesis, h, { sync: true });
  }

  async head(): Promise<{ height: number; hash: Uint8Array } | undefined> {
    const b = await this.db.get(Keys.head);
    return b === undefined ? undefined : decodeHead(b);
  }

  async loadMeters(): Promise<Map<string, MeterRecord>> {
    const out = new Map<string, MeterRecord>();
    for await (const [k, v] of this.db.iterator(Keys.range('M'))) {
      const id = meterIdOfMeterKey(k);
      out.set(id, decodeMeterRecord(v, `meter "${id}"`));
    }
    return out;
  }

  /** Save the registry as genesis defines it (once, at the first start). */
  async saveMeters(meters: ReadonlyMap<string, MeterRecord>): Promise<void> {
    const ops: Op[] = [...meters].map(([id, r]) => ({ type: 'put', key: Keys.meter(id), value: encodeMeterRecord(r) }));
    await this.db.batch(ops, { sync: true });
  }

  /**
   * Write-ahead entries of a store from before the write-ahead had files of its own
   * (store/wal.ts); start-up moves them there.
   */
  async loadLegacyPending(): Promise<{ no: number; bytes: Uint8Array }[]> {
    const out = [];
    for await (const [k, v] of this.db.iterator(Keys.range('P'))) out.push({ no: pendingNoOfKey(k), bytes: v });
    return out;
  }

  async deleteLegacyPending(nos: readonly number[]): Promise<void> {
    if (nos.length) await this.db.batch(nos.map((n) => ({ type: 'del' as const, key: Keys.pending(n) })), { sync: true });
  }

  /** Store a committed block and everything it changes, atomically. */
  async commitBlock(w: BlockWrite): Promise<void> {
    const ops: Op[] = [
      { type: 'put', key: Keys.block(w.height), value: w.blockBytes },
      { type: 'put', key: Keys.commit(w.height), value: w.commitBytes },
      { type: 'put', key: Keys.head, value: encodeHead(w.height, w.hash) },
    ];
    for (const r of w.readings) ops.push({ type: 'put', key: Keys.reading(r.meterId, r.seq), value: encodeIndexEntry(w.height, r.index) });
    for (const [id, m] of w.meters) ops.push({ type: 'put', key: Keys.meter(id), value: encodeMeterRecord(m) });
    await this.db.batch(ops, { sync: true });
  }

  /**
   * Persist, synced and as one batch, what consensus must remember before a message
   * leaves: the safety state of the height, blocks it names, the signed message itself
   * (consensus/record.ts). Any part may be absent.
   */
  async saveConsensus(height: number, w: {
    state?: Uint8Array;
    blocks?: readonly { hash: Uint8Array; bytes: Uint8Array }[];
    signed?: { round: number; type: string; bytes: Uint8Array };
  }): Promise<void> {
    const ops: Op[] = [];
    if (w.state) ops.push({ type: 'put', key: Keys.safetyState(height), value: w.state });
    for (const b of w.blocks ?? []) ops.push({ type: 'put', key: Keys.recordBlock(height, b.hash), value: b.bytes });
    if (w.signed) ops.push({ type: 'put', key: Keys.signed(height, w.signed.round, w.signed.type), value: w.signed.bytes });
    if (ops.length) await this.db.batch(ops, { sync: true });
  }

  /** The consensus record of `height`: safety state, its blocks by hash (hex), what we signed. */
  async loadConsensus(height: number): Promise<{ state: Uint8Array | undefined; blocks: Map<string, Uint8Array>; signed: Uint8Array[] }> {
    const signed: Uint8Array[] = [];
    for await (const [, v] of this.db.iterator(Keys.range('V', Keys.signedAt(height).subarray(1)))) signed.push(v);
    const blocks = new Map<string, Uint8Array>();
    for await (const [k, v] of this.db.iterator(Keys.range('L', Keys.atHeight('L', height).subarray(1)))) blocks.set(toHex(k.subarray(9)), v);
    return { state: await this.db.get(Keys.safetyState(height)), blocks, signed };
  }

  /** Forget the consensus records below `height` (those heights are committed). */
  async pruneConsensus(height: number): Promise<void> {
    for (const family of ['V', 'S', 'L'] as const) await this.db.clear({ gte: Keys.range(family).gte, lt: Keys.atHeight(family, height) });
  }

  private evidenceNo = 0;
  async putEvidence(bytes: Uint8Array): Promise<void> {
    await this.db.put(Keys.evidence(Date.now(), this.evidenceNo++), bytes);
  }

  blockBytes = (h: number): Promise<Uint8Array | undefined> => this.db.get(Keys.block(h));
  commitBytes = (h: number): Promise<Uint8Array | undefined> => this.db.get(Keys.commit(h));

  async readingPosition(meterId: string, seq: bigint): Promise<{ height: number; index: number } | undefined> {
    const v = await this.db.get(Keys.reading(meterId, seq));
    return v === undefined ? undefined : decodeIndexEntry(v, `index of ${meterId}/${seq}`);
  }

  /** Index entries of one meter from `fromSeq` on, ascending. */
  async *readingPositions(meterId: string, fromSeq: bigint): AsyncGenerator<{ seq: bigint; height: number; index: number }> {
    const r = Keys.range('I', Keys.readingsOf(meterId).subarray(1));
    for await (const [k, v] of this.db.iterator({ gte: Keys.reading(meterId, fromSeq), lt: r.lt })) {
      const seq = seqOfReadingKey(k);
      yield { seq, ...decodeIndexEntry(v, `index of ${meterId}/${seq}`) };
    }
  }

  /** Raw iteration over one key family, for the audit. */
  entries(prefix: 'B' | 'C' | 'I' | 'M' | 'P' | 'E'): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.db.iterator(Keys.range(prefix));
  }

  static heightOfKey = heightOfKey;
}
