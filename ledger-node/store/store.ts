/**
 * The store: what the chain, consensus and the audit need kept, as one small interface
 * (after Lodestar's db/controller/interface.ts). Two implementations: ./level.ts
 * (classic-level, what a gateway runs; its key layout is its own) and ./memory.ts (for
 * fast tests and the simulation). Every write that matters is one atomic batch, synced.
 *
 * What it keeps: the genesis hash it belongs to; blocks and commit certificates by height,
 * and the head; the state records (kind, id) as of the head (protocols/state.ts); the
 * reading index (meter, seq) -> place in the chain, time and registers, so receipts and
 * bills never scan blocks; the reading history, the same entries keyed by (meter, day of their
 * time, height) with one value per meter per block per day, so a bill loads a meter's
 * period in a few hundred reads, not one per reading; the transaction index, hash -> place, and subject (what a
 * transaction is about, protocols/subjects.ts) -> places, so every transaction has a
 * receipt and a bill's bundle is found without a scan; the consensus record of issue 17
 * (consensus/record.ts); evidence.
 */
import { ProtocolError, type StateChange } from '../../protocols/index.js';
import type { StoredRecord } from '../consensus/record.js';

export class StoreError extends ProtocolError {}

/** One committed reading as the index holds it: where it is, and what bills need of it. */
export interface IndexedReading {
  readonly seq: bigint;
  readonly height: number;
  /** Leaf index in its block. */
  readonly index: number;
  /** As signed by the meter, ms since the epoch. */
  readonly time: number;
  /** Absent for a sealed reading (docs/protocol.md §11.4): the index holds no energy value of it. */
  readonly importWh?: number;
  readonly exportWh?: number;
}

/** Where a transaction is: block height and leaf index. */
export interface TxPosition {
  readonly height: number;
  readonly index: number;
}

/** A block's transaction as the transaction index holds it. */
export interface IndexedTx {
  /** SHA-256 of the transaction's bytes. */
  readonly hash: Uint8Array;
  /** protocols txSubjects of its body. */
  readonly subjects: readonly string[];
}

/** A committed block and everything it changes, written as one batch. */
export interface BlockWrite {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly blockBytes: Uint8Array;
  readonly commitBytes: Uint8Array;
  /** Readings in the block, for the index. */
  readonly readings: readonly (IndexedReading & { readonly meterId: string })[];
  /** Every transaction of the block, by leaf index, for the transaction index. */
  readonly txs: readonly IndexedTx[];
  /** State changes of the block's transactions, one per record (StateOverlay.list()). */
  readonly changes: readonly StateChange[];
}

/** What consensus writes before a message leaves (consensus/record.ts), any part absent. */
export interface ConsensusWrite {
  readonly state?: Uint8Array;
  readonly blocks?: readonly { hash: Uint8Array; bytes: Uint8Array }[];
  readonly signed?: { round: number; type: string; bytes: Uint8Array };
}

/** Readings of a meter between two instants: what a bill is computed from (docs/billing.md §6.4). */
export interface ReadingHistory {
  /**
   * Committed readings of `meterId` with `fromMs <= time <= toMs`, by seq: the
   * `between` of protocols/billing/ledger.ts ReadingIndex (whose entries, with their height,
   * these are), for the node's adapter of it.
   */
  readingsBetween(meterId: string, fromMs: number, toMs: number): Promise<IndexedReading[]>;
  /**
   * The committed readings of `meterId` with `fromMs <= time <= toMs` (every one when
   * both are omitted) from the reading history: by UTC day of their time, then height, then
   * leaf index (not by time within a day). What a bill's readings are loaded from.
   */
  readingHistory(meterId: string, fromMs?: number, toMs?: number): Promise<IndexedReading[]>;
}

export interface LedgerStore extends ReadingHistory {
  genesisHash(): Promise<Uint8Array | undefined>;
  setGenesisHash(hash: Uint8Array): Promise<void>;

  /** The last committed block, or undefined on a new store. */
  head(): Promise<{ height: number; hash: Uint8Array } | undefined>;
  blockBytes(height: number): Promise<Uint8Array | undefined>;
  commitBytes(height: number): Promise<Uint8Array | undefined>;
  /** Every stored block, ascending (the audit). */
  blocks(): AsyncIterable<{ height: number; bytes: Uint8Array }>;
  /** The heights holding a commit certificate, ascending (the audit). */
  commitHeights(): AsyncIterable<number>;
  /** Store a committed block, its certificate, the head, its readings' index and its state changes: one synced batch. */
  commitBlock(w: BlockWrite): Promise<void>;

  /** Every state record, by kind then id. */
  stateRecords(): AsyncIterable<StateChange>;
  /** Write state records outside a block (genesis state, at the first start). */
  saveState(changes: readonly StateChange[]): Promise<void>;

  readingPosition(meterId: string, seq: bigint): Promise<IndexedReading | undefined>;
  /** Index entries of one meter from `fromSeq` on, ascending. */
  readingPositions(meterId: string, fromSeq: bigint): AsyncIterable<IndexedReading>;
  /** The whole index, by meter then seq (the audit). */
  readingIndex(): AsyncIterable<IndexedReading & { readonly meterId: string }>;
  /** The whole reading history, by meter, day, height (the audit checks it against the blocks). */
  readingHistoryIndex(): AsyncIterable<IndexedReading & { readonly meterId: string }>;

  /** Where the transaction with this hash is committed, or undefined. */
  txPosition(hash: Uint8Array): Promise<TxPosition | undefined>;
  /** The transactions about `subject` (protocols txSubject), in chain order. */
  txsAbout(subject: string): AsyncIterable<TxPosition & { readonly hash: Uint8Array }>;
  /** The whole transaction index by hash (the audit), in hash order. */
  txIndex(): AsyncIterable<TxPosition & { readonly hash: Uint8Array }>;

  /** The consensus record port (issue 17): persist what must be remembered before a message leaves. */
  saveConsensus(height: number, w: ConsensusWrite): Promise<void>;
  /** The consensus record of `height`: safety state, its blocks by hash (hex), what we signed (by round, then type). */
  loadConsensus(height: number): Promise<StoredRecord>;
  /** Forget the consensus records below `height` (those heights are committed). */
  pruneConsensus(height: number): Promise<void>;

  /** Keep evidence of a validator signing two different messages. */
  putEvidence(bytes: Uint8Array): Promise<void>;
  evidence(): AsyncIterable<Uint8Array>;

  close(): Promise<void>;
}

/** Opens the store of a data dir (LevelDB by default; tests pass a memory one). */
export type StoreOpener = (path: string) => Promise<LedgerStore>;

/** The readings between two instants, by seq, from a meter's history (both stores). */
export async function readingsBetween(history: Pick<ReadingHistory, 'readingHistory'>, meterId: string, fromMs: number, toMs: number): Promise<IndexedReading[]> {
  const out = await history.readingHistory(meterId, fromMs, toMs);
  return out.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
}

/** Of a history read by whole days, the readings with fromMs <= time <= toMs. */
export const withinTimes = (rows: IndexedReading[], fromMs: number, toMs: number): IndexedReading[] =>
  (rows.every((r) => r.time >= fromMs && r.time <= toMs) ? rows : rows.filter((r) => r.time >= fromMs && r.time <= toMs));
