/**
 * The store (./store.ts) in memory, for fast tests and the simulation: the same interface
 * and the same value encodings as ./level.ts (values are kept as their bytes, so what
 * would not encode fails here too), no disk. A `MemoryStore` is one handle; `reopen()`
 * gives another over the same contents, as a restart opens the same directory.
 */
import { type StateChange, toHex } from '../../protocols/index.js';
import type { StoredRecord } from '../consensus/record.js';
import {
  dayOf, decodeHead, decodeHistoryValue, decodeIndexEntry, decodeStateValue, decodeTxPosition, encodeHead, encodeHistoryValue, encodeIndexEntry, encodeStateValue, encodeTxPosition,
  historyGroups,
} from './codec.js';
import {
  type BlockWrite, type ConsensusWrite, type IndexedReading, type LedgerStore, StoreError, type StoreOpener, type TxPosition, readingsBetween, withinTimes,
} from './store.js';

interface ConsensusHeight {
  state: Uint8Array | undefined;
  readonly blocks: Map<string, Uint8Array>;
  /** By round, then type: the order the LevelDB keys list them. */
  readonly signed: Map<string, { round: number; type: string; bytes: Uint8Array }>;
}

/** What a memory store holds, shared by its handles. */
class Contents {
  genesis: Uint8Array | undefined;
  head: Uint8Array | undefined;
  readonly blocks = new Map<number, Uint8Array>();
  readonly commits = new Map<number, Uint8Array>();
  readonly records = new Map<string, Map<string, Uint8Array>>();
  readonly index = new Map<string, Map<bigint, Uint8Array>>();
  /** Reading history: meter -> day -> height -> encoded value (level.ts J). */
  readonly history = new Map<string, Map<number, Map<number, Uint8Array>>>();
  /** Transaction index: hash (hex) -> encoded position. */
  readonly txs = new Map<string, Uint8Array>();
  /** Subject -> transactions about it, in chain order (blocks commit in height order). */
  readonly about = new Map<string, (TxPosition & { hash: Uint8Array })[]>();
  readonly consensus = new Map<number, ConsensusHeight>();
  readonly evidence: Uint8Array[] = [];
  open = false;
}

const ascending = <K extends number | bigint | string>(keys: Iterable<K>): K[] => [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const bytesOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class MemoryStore implements LedgerStore {
  private closed = false;

  constructor(private readonly c: Contents = new Contents()) {
    if (c.open) throw new StoreError('E_STORE_LOCKED', 'memory store is open in another handle');
    c.open = true;
  }

  /** A new handle over the same contents (this one must be closed first, as LevelDB locks). */
  reopen(): MemoryStore {
    return new MemoryStore(this.c);
  }

  /** An opener for LedgerNode (NodeOptions.openStore): every open is a new handle over these contents. */
  static opener(): StoreOpener & { current: () => MemoryStore | undefined } {
    const c = new Contents();
    let last: MemoryStore | undefined;
    const open = async (): Promise<LedgerStore> => (last = new MemoryStore(c));
    return Object.assign(open, { current: () => last });
  }

  private live(): Contents {
    if (this.closed) throw new StoreError('E_STORE_CLOSED', 'memory store is closed');
    return this.c;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.c.open = false;
  }

  async genesisHash(): Promise<Uint8Array | undefined> {
    return this.live().genesis;
  }

  async setGenesisHash(h: Uint8Array): Promise<void> {
    this.live().genesis = h.slice();
  }

  async head(): Promise<{ height: number; hash: Uint8Array } | undefined> {
    const h = this.live().head;
    return h === undefined ? undefined : decodeHead(h);
  }

  async blockBytes(h: number): Promise<Uint8Array | undefined> {
    return this.live().blocks.get(h);
  }

  async commitBytes(h: number): Promise<Uint8Array | undefined> {
    return this.live().commits.get(h);
  }

  async *blocks(): AsyncIterable<{ height: number; bytes: Uint8Array }> {
    const c = this.live();
    for (const height of ascending(c.blocks.keys())) yield { height, bytes: c.blocks.get(height)! };
  }

  async *commitHeights(): AsyncIterable<number> {
    yield* ascending(this.live().commits.keys());
  }

  async commitBlock(w: BlockWrite): Promise<void> {
    const c = this.live();
    // Encode everything first: like a batch, all or nothing.
    const index = w.readings.map((r) => ({ meterId: r.meterId, seq: r.seq, bytes: encodeIndexEntry(r) }));
    const history = [...historyGroups(w.readings)].flatMap(([meterId, days]) => [...days].map(([day, rows]) => ({ meterId, day, bytes: encodeHistoryValue(rows) })));
    const records = w.changes.map((ch) => ({ ch, bytes: ch.value === null ? undefined : encodeStateValue(ch.kind, ch.value) }));
    c.blocks.set(w.height, w.blockBytes.slice());
    c.commits.set(w.height, w.commitBytes.slice());
    c.head = encodeHead(w.height, w.hash);
    for (const r of index) {
      let m = c.index.get(r.meterId);
      if (!m) c.index.set(r.meterId, (m = new Map()));
      m.set(r.seq, r.bytes);
    }
    for (const h of history) {
      let days = c.history.get(h.meterId);
      if (!days) c.history.set(h.meterId, (days = new Map()));
      let heights = days.get(h.day);
      if (!heights) days.set(h.day, (heights = new Map()));
      heights.set(w.height, h.bytes);
    }
    w.txs.forEach((t, index) => {
      c.txs.set(toHex(t.hash), encodeTxPosition({ height: w.height, index }));
      for (const sub of t.subjects) {
        let l = c.about.get(sub);
        if (!l) c.about.set(sub, (l = []));
        l.push({ height: w.height, index, hash: t.hash.slice() });
      }
    });
    this.putRecords(records);
  }

  private putRecords(records: readonly { ch: StateChange; bytes: Uint8Array | undefined }[]): void {
    const c = this.c;
    for (const { ch, bytes } of records) {
      let m = c.records.get(ch.kind);
      if (!m) c.records.set(ch.kind, (m = new Map()));
      if (bytes === undefined) m.delete(ch.id);
      else m.set(ch.id, bytes);
    }
  }

  async *stateRecords(): AsyncIterable<StateChange> {
    const c = this.live();
    for (const kind of [...c.records.keys()].sort(bytesOrder)) {
      const m = c.records.get(kind)!;
      for (const id of [...m.keys()].sort(bytesOrder)) yield { kind, id, value: decodeStateValue(kind, m.get(id)!, `${kind} "${id}"`) };
    }
  }

  async saveState(changes: readonly StateChange[]): Promise<void> {
    this.live();
    this.putRecords(changes.map((ch) => ({ ch, bytes: ch.value === null ? undefined : encodeStateValue(ch.kind, ch.value) })));
  }

  async readingPosition(meterId: string, seq: bigint): Promise<IndexedReading | undefined> {
    const v = this.live().index.get(meterId)?.get(seq);
    return v === undefined ? undefined : decodeIndexEntry(v, seq, `index of ${meterId}/${seq}`);
  }

  async *readingPositions(meterId: string, fromSeq: bigint): AsyncIterable<IndexedReading> {
    const m = this.live().index.get(meterId);
    if (!m) return;
    for (const seq of ascending(m.keys())) if (seq >= fromSeq) yield decodeIndexEntry(m.get(seq)!, seq, `index of ${meterId}/${seq}`);
  }

  readingsBetween(meterId: string, fromMs: number, toMs: number): Promise<IndexedReading[]> {
    return readingsBetween(this, meterId, fromMs, toMs);
  }

  async readingHistory(meterId: string, fromMs?: number, toMs?: number): Promise<IndexedReading[]> {
    const days = this.live().history.get(meterId);
    const out: IndexedReading[] = [];
    if (!days) return out;
    const lo = fromMs === undefined ? -Infinity : dayOf(fromMs);
    const hi = toMs === undefined ? Infinity : dayOf(toMs);
    for (const day of ascending(days.keys())) {
      if (day < lo || day > hi) continue;
      const heights = days.get(day)!;
      for (const height of ascending(heights.keys())) out.push(...decodeHistoryValue(heights.get(height)!, height, day, `reading history of ${meterId}`));
    }
    return fromMs === undefined && toMs === undefined ? out : withinTimes(out, fromMs ?? 0, toMs ?? Number.MAX_SAFE_INTEGER);
  }

  async *readingHistoryIndex(): AsyncIterable<IndexedReading & { meterId: string }> {
    for (const meterId of [...this.live().history.keys()].sort(bytesOrder)) {
      for (const r of await this.readingHistory(meterId)) yield { meterId, ...r };
    }
  }

  async *readingIndex(): AsyncIterable<IndexedReading & { meterId: string }> {
    for (const meterId of [...this.live().index.keys()].sort(bytesOrder)) {
      for await (const r of this.readingPositions(meterId, 0n)) yield { meterId, ...r };
    }
  }

  async txPosition(hash: Uint8Array): Promise<TxPosition | undefined> {
    const v = this.live().txs.get(toHex(hash));
    return v === undefined ? undefined : decodeTxPosition(v, `transaction index of ${toHex(hash)}`);
  }

  async *txsAbout(subject: string): AsyncIterable<TxPosition & { hash: Uint8Array }> {
    const l = this.live().about.get(subject) ?? [];
    yield* [...l].sort((a, b) => a.height - b.height || a.index - b.index);
  }

  async *txIndex(): AsyncIterable<TxPosition & { hash: Uint8Array }> {
    const c = this.live();
    for (const hex of [...c.txs.keys()].sort()) yield { ...decodeTxPosition(c.txs.get(hex)!, `transaction index of ${hex}`), hash: Uint8Array.from(Buffer.from(hex, 'hex')) };
  }

  async saveConsensus(height: number, w: ConsensusWrite): Promise<void> {
    const c = this.live();
    let h = c.consensus.get(height);
    if (!h) c.consensus.set(height, (h = { state: undefined, blocks: new Map(), signed: new Map() }));
    if (w.state) h.state = w.state.slice();
    for (const b of w.blocks ?? []) h.blocks.set(toHex(b.hash), b.bytes.slice());
    if (w.signed) h.signed.set(`${w.signed.round}/${w.signed.type}`, { ...w.signed, bytes: w.signed.bytes.slice() });
  }

  async loadConsensus(height: number): Promise<StoredRecord> {
    const h = this.live().consensus.get(height);
    const signed = [...(h?.signed.values() ?? [])].sort((a, b) => a.round - b.round || bytesOrder(a.type, b.type)).map((s) => s.bytes);
    return { state: h?.state, blocks: new Map(h?.blocks ?? []), signed };
  }

  async pruneConsensus(height: number): Promise<void> {
    const c = this.live();
    for (const h of [...c.consensus.keys()]) if (h < height) c.consensus.delete(h);
  }

  async putEvidence(bytes: Uint8Array): Promise<void> {
    this.live().evidence.push(bytes.slice());
  }

  async *evidence(): AsyncIterable<Uint8Array> {
    yield* this.live().evidence;
  }
}
