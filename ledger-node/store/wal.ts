/**
 * The write-ahead log: accepted transactions that are not in a block yet, in files of
 * their own beside the block store, so that a reading is written to LevelDB once (in its
 * block) and not three times (put, block, delete).
 *
 * `<data>/wal/<segment no, 12 digits>.wal`: the 8 bytes "MLWAL01\n" (WAL_MAGIC), then
 * records, each appended with one write and one fdatasync per group commit:
 *
 *   u32be payload length | first 8 bytes of sha256(payload) | payload
 *   payload: entries, each  u32be entry no (high) | u32be (low) | u32be length | tx bytes
 *
 * A segment is deleted once every entry in it is in a committed block (or was dropped),
 * and the block is synced in the store first, so a crash between the two leaves entries
 * that recovery finds superseded and drops. A record cut short, or failing its checksum,
 * with no sound record after it, is a write that was never acknowledged (a crash or a
 * failed write) and is ignored; with a sound record after it, it is damage, and opening
 * refuses with E_STORE_CORRUPT naming the segment and offset. (Damage to the very last
 * record looks like a torn write: that one group is lost, as in LevelDB's own log.)
 */
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtocolError } from '../../protocols/index.js';
import { probe } from '../latency-probe.js';

export interface WalEntry {
  readonly no: number;
  readonly bytes: Uint8Array;
}

/** The write side the mempool uses. */
export interface WriteAhead {
  /** One record, synced before it resolves. */
  append(entries: readonly WalEntry[]): Promise<void>;
  /** These entries are in a synced block, or dropped: their segment may go. */
  release(nos: Iterable<number>): void;
}

/** The first bytes of every segment (format version 01). */
export const WAL_MAGIC = Buffer.from('MLWAL01\n', 'latin1');
const HEADER = 12;
const ENTRY_HEADER = 12;
/** A new segment is started once the current one is this big. */
export const SEGMENT_BYTES = 1 << 20;
const NAME = /^(\d{12})\.wal$/;

interface Segment {
  readonly id: number;
  readonly path: string;
  firstNo: number;
  lastNo: number;
  /** Entries appended and not yet released. */
  live: number;
}

interface Active {
  readonly seg: Segment;
  readonly fh: FileHandle;
  size: number;
  /** A write failed and could not be undone: start a new segment before the next. */
  broken: boolean;
}

const segmentPath = (dir: string, id: number): string => join(dir, `${String(id).padStart(12, '0')}.wal`);

function checksum(payload: Uint8Array): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, 8);
}

export function encodeRecord(entries: readonly WalEntry[]): Buffer {
  let n = HEADER;
  for (const e of entries) n += ENTRY_HEADER + e.bytes.length;
  const buf = Buffer.allocUnsafe(n);
  let o = HEADER;
  for (const e of entries) {
    buf.writeUInt32BE(Math.floor(e.no / 2 ** 32), o);
    buf.writeUInt32BE(e.no >>> 0, o + 4);
    buf.writeUInt32BE(e.bytes.length, o + 8);
    buf.set(e.bytes, o + ENTRY_HEADER);
    o += ENTRY_HEADER + e.bytes.length;
  }
  buf.writeUInt32BE(n - HEADER, 0);
  checksum(buf.subarray(HEADER)).copy(buf, 4);
  return buf;
}

export interface SegmentRead {
  readonly id: number;
  readonly entries: WalEntry[];
  /** Bytes at the end that are not a whole, sound record (an unacknowledged write). */
  readonly tornBytes: number;
}

/** Parse one segment file's bytes; throws E_STORE_CORRUPT on damage with a sound record after it. */
export function parseSegment(name: string, id: number, buf: Buffer): SegmentRead {
  const corrupt = (at: number, what: string): never => {
    throw new ProtocolError('E_STORE_CORRUPT', `write-ahead segment ${name}: ${what} at offset ${at}`);
  };
  // Created, then a crash before its first byte reached the disk.
  if (buf.length < WAL_MAGIC.length) {
    if (!WAL_MAGIC.subarray(0, buf.length).equals(buf)) corrupt(0, 'not a write-ahead segment');
    return { id, entries: [], tornBytes: buf.length };
  }
  if (!buf.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) corrupt(0, 'not a write-ahead segment (wrong magic)');
  const entries: WalEntry[] = [];
  let o = WAL_MAGIC.length;
  while (o < buf.length) {
    const end = buf.length - o < HEADER ? Infinity : o + HEADER + buf.readUInt32BE(o);
    if (end > buf.length) {
      // Cut short: the last write never completed. Unless a sound record follows, in which
      // case it was this record's length that was damaged.
      if (soundRecordFrom(buf, o + 1)) corrupt(o, 'record length runs past the end of the segment, with sound records after it');
      return { id, entries, tornBytes: buf.length - o };
    }
    const payload = buf.subarray(o + HEADER, end);
    if (!checksum(payload).equals(buf.subarray(o + 4, o + HEADER))) {
      // The same rule: the end of an unfinished write (cut short, or zeros where a file
      // system extended the file but never wrote the data), or damage if sound records follow.
      if (soundRecordFrom(buf, o + 1)) corrupt(o, 'record fails its checksum');
      return { id, entries, tornBytes: buf.length - o };
    }
    let p = 0;
    while (p < payload.length) {
      if (payload.length - p < ENTRY_HEADER) corrupt(o, 'entry header cut short');
      const no = payload.readUInt32BE(p) * 2 ** 32 + payload.readUInt32BE(p + 4);
      const n = payload.readUInt32BE(p + 8);
      if (p + ENTRY_HEADER + n > payload.length) corrupt(o, `entry ${no} runs past its record`);
      entries.push({ no, bytes: new Uint8Array(payload.subarray(p + ENTRY_HEADER, p + ENTRY_HEADER + n)) });
      p += ENTRY_HEADER + n;
    }
    o = end;
  }
  return { id, entries, tornBytes: 0 };
}

/** Whether entries' headers tile `len` bytes at `at` exactly (a cheap test before a checksum). */
function tiles(buf: Buffer, at: number, len: number): boolean {
  let q = 0;
  while (q < len) {
    if (len - q < ENTRY_HEADER) return false;
    q += ENTRY_HEADER + buf.readUInt32BE(at + q + 8);
  }
  return len > 0 && q === len;
}

/** Whether a whole record with a matching checksum starts anywhere at or after `from`. */
function soundRecordFrom(buf: Buffer, from: number): boolean {
  for (let p = from; p + HEADER <= buf.length; p++) {
    const len = buf.readUInt32BE(p);
    if (p + HEADER + len > buf.length || !tiles(buf, p + HEADER, len)) continue;
    if (checksum(buf.subarray(p + HEADER, p + HEADER + len)).equals(buf.subarray(p + 4, p + HEADER))) return true;
  }
  return false;
}

/** Every segment under `dir`, oldest first, without changing anything (the audit reads this way). */
export async function readWriteAhead(dir: string): Promise<SegmentRead[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const ids = names.flatMap((n) => {
    const m = NAME.exec(n);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
  const out: SegmentRead[] = [];
  for (const id of ids) {
    const name = `${String(id).padStart(12, '0')}.wal`;
    out.push(parseSegment(name, id, await readFile(join(dir, name))));
  }
  return out;
}

export class WriteAheadLog implements WriteAhead {
  /** Closed segments that still hold live entries, oldest first. */
  private closed: Segment[] = [];
  private active: Active | undefined;
  private nextId: number;
  private closing = false;
  /** Segment deletions under way (a release starts them without waiting). */
  private deleting: Promise<unknown> = Promise.resolve();
  /** Above every entry number read at open: new entries are numbered from here. */
  readonly nextNo: number;

  private constructor(private readonly dir: string, segments: readonly SegmentRead[]) {
    let maxNo = 0;
    for (const s of segments) {
      let firstNo = Infinity;
      let lastNo = -Infinity;
      for (const e of s.entries) {
        firstNo = Math.min(firstNo, e.no);
        lastNo = Math.max(lastNo, e.no);
      }
      maxNo = Math.max(maxNo, lastNo);
      this.closed.push({ id: s.id, path: segmentPath(dir, s.id), firstNo, lastNo, live: s.entries.length });
    }
    this.nextId = (segments.at(-1)?.id ?? 0) + 1;
    this.nextNo = maxNo + 1;
  }

  /**
   * Open (creating) the log in `dir` and read what it holds. Every entry read counts as
   * live until released: the caller replays them and releases those a block superseded.
   */
  static async open(dir: string): Promise<{ wal: WriteAheadLog; segments: SegmentRead[] }> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const segments = await readWriteAhead(dir);
    const wal = new WriteAheadLog(dir, segments);
    await wal.collect();
    return { wal, segments };
  }

  async append(entries: readonly WalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.closing) throw new Error('write-ahead log is closed');
    const a = await this.writable();
    const rec = encodeRecord(entries);
    try {
      let done = 0;
      const t0 = performance.now();
      while (done < rec.length) done += (await a.fh.write(rec, done, rec.length - done, a.size + done)).bytesWritten;
      const t1 = performance.now();
      await a.fh.datasync();
      probe?.add('wal.write', t1 - t0);
      probe?.add('wal.datasync', performance.now() - t1);
    } catch (e) {
      // Take the partial record back, so that the next one is not written behind damage.
      await a.fh.truncate(a.size).catch(() => {
        a.broken = true;
      });
      throw e;
    }
    a.size += rec.length;
    const s = a.seg;
    s.firstNo = Math.min(s.firstNo, entries[0]!.no);
    s.lastNo = Math.max(s.lastNo, entries.at(-1)!.no);
    s.live += entries.length;
  }

  release(nos: Iterable<number>): void {
    let freed = false;
    for (const no of nos) {
      const s = this.segmentOf(no);
      if (s && s.live > 0) {
        s.live--;
        if (s.live === 0 && s !== this.active?.seg) freed = true;
      }
    }
    if (freed) void this.collect();
  }

  /** Entries not yet released (for tests and metrics). */
  get liveEntries(): number {
    return this.closed.reduce((n, s) => n + s.live, 0) + (this.active?.seg.live ?? 0);
  }

  /** Close the current segment; delete it too if nothing in it waits for a block. */
  async close(): Promise<void> {
    this.closing = true;
    const a = this.active;
    this.active = undefined;
    if (a) {
      this.closed.push(a.seg);
      await a.fh.close().catch(() => {});
    }
    await this.collect();
  }

  private segmentOf(no: number): Segment | undefined {
    const a = this.active?.seg;
    if (a && no >= a.firstNo && no <= a.lastNo) return a;
    for (let i = this.closed.length - 1; i >= 0; i--) {
      const s = this.closed[i]!;
      if (no >= s.firstNo && no <= s.lastNo) return s;
    }
    return undefined;
  }

  /**
   * Delete closed segments with nothing live. A segment that cannot be deleted stays on
   * disk harmlessly: everything in it is superseded, and the next start drops it again.
   */
  private async collect(): Promise<void> {
    const dead = this.closed.filter((s) => s.live === 0);
    if (dead.length > 0) {
      this.closed = this.closed.filter((s) => s.live > 0);
      const gone = Promise.all(dead.map((s) => unlink(s.path).catch(() => {})));
      this.deleting = Promise.all([this.deleting, gone]);
    }
    // Deletions a release started are waited for too, so that close() leaves nothing behind.
    await this.deleting;
  }

  /** The segment to append to: a new one when there is none, it is full, or a write broke it. */
  private async writable(): Promise<Active> {
    const cur = this.active;
    if (cur && !cur.broken && cur.size < SEGMENT_BYTES) return cur;
    if (cur) {
      // Listed as closed before any await, so that releases meanwhile find it.
      this.active = undefined;
      this.closed.push(cur.seg);
      await cur.fh.close().catch(() => {});
      await this.collect();
    }
    const id = this.nextId++;
    const path = segmentPath(this.dir, id);
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.write(WAL_MAGIC, 0, WAL_MAGIC.length, 0);
      await fh.datasync();
      // The new name must survive a crash as well as the bytes in it.
      const d = await open(this.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw e;
    }
    this.active = { seg: { id, path, firstNo: Infinity, lastNo: -Infinity, live: 0 }, fh, size: WAL_MAGIC.length, broken: false };
    return this.active;
  }
}
