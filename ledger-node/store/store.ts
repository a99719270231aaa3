/**
 * The block store: one classic-level (LevelDB) database behind a small interface.
 * Every write that matters is one atomic batch with sync (fsync) on.
 */
import { ClassicLevel } from 'classic-level';
import { ProtocolError, toHex } from '../../protocols/index.js';
import type { MeterRecord } from '../rules.js';
import { decodeHead, decodeIndexEntry, decodeMeterRecord, encodeHead, encodeIndexEntry, encodeMeterRecord } from './codec.js';
import { Keys, heightOfKey, meterIdOfMeterKey, pendingNoOfKey, seqOfReadingKey } from './keys.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;
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

export class LedgerStore {
  private constructor(private readonly db: Db) {}

  static async open(path: string): Promise<LedgerStore> {
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (cause) {
      const code = (cause as { code?: string; cause?: { code?: string } }).cause?.code ?? (cause as { code?: string }).code;
      if (code === 'LEVEL_LOCKED') throw new StoreError('E_STORE_LOCKED', `store ${path} is in use by another process`, { cause });
      throw new StoreError('E_STORE_OPEN', `cannot open store ${path}: ${(cause as Error).message}`, { cause });
    }
    return new LedgerStore(db);
  }

  async close(): Promise<void> {
    await this.db.close();
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
