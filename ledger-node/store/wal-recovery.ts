/**
 * The write-ahead recovered on top of the committed state: one replay for the node's
 * start (recoverWriteAhead) and for the audit (replayWriteAhead), so both judge the same
 * entries the same way. An entry that is not a transaction, or whose signature fails, was
 * altered on disk: WriteAheadError. One a block already holds (a crash between a block's
 * commit and the release of its segment) is 'inBlock'. One a block made invalid (a later
 * reading of its meter committed first, through another gateway; or older than a block
 * may hold; a payment whose bill a peer's block paid) is 'gone': it was acknowledged and
 * is lost, and the node tells its meter (a reading) or billing (anything else).
 */
import { ProtocolError, type RejectionError, type SignedTx, type TxBody, TxType, decodeAnyTx } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import { committedReading } from '../blocks/receipts.js';
import type { Intake } from '../intake.js';
import type { NodeMetrics } from '../metrics.js';
import { type TxContext, verifyTxSignature } from '../signatures.js';
import type { ChainState } from '../state/layers.js';
import { txMeter } from '../state/ledger.js';
import { checkReadingTime, readingTimeProblem } from '../state/meter.js';
import { applyTx, requiredSigner } from '../state/rules.js';
import { moveLegacyWriteAhead } from './migrate-0.1.js';
import type { LedgerStore } from './store.js';
import type { SegmentRead, WalEntry, WriteAheadLog } from './wal.js';

export class WriteAheadError extends Error {
  override readonly name = 'WriteAheadError';
  constructor(readonly no: number, readonly reason: string) {
    super(`write-ahead entry ${no}: ${reason}`);
  }
}

export type Replayed =
  | { readonly fate: 'live'; readonly no: number; readonly tx: SignedTx<TxBody> }
  | { readonly fate: 'inBlock'; readonly no: number; readonly tx: SignedTx<TxBody> }
  | { readonly fate: 'gone'; readonly no: number; readonly tx: SignedTx<TxBody>; readonly error: RejectionError };

/**
 * Replay `entries` in order on the tip of `state` (its committed layer being the head's):
 * each live one is accepted into the tip. `isCommitted` says whether a transaction the
 * rules refuse is in a block already (a reading by its identity, twins included; any other
 * by its hash).
 */
export async function replayWriteAhead(
  entries: readonly WalEntry[], state: ChainState, txctx: TxContext, head: { height: number; time: number },
  isCommitted: (tx: SignedTx<TxBody>) => Promise<boolean> = async () => false,
): Promise<Replayed[]> {
  const at = { height: head.height + 1, time: head.time };
  const out: Replayed[] = [];
  for (const { no, bytes } of entries) {
    let tx: SignedTx<TxBody>;
    try {
      tx = decodeAnyTx(bytes, txctx.maxTxBytes);
    } catch (e) {
      throw new WriteAheadError(no, `not a transaction: ${(e as Error).message}`);
    }
    let changes;
    let signer;
    // Released at once: it goes to the mempool, whose waiting bills' meters ChainWriter keeps.
    const release = await txctx.bills?.prepare([tx]);
    try {
      // Too old for the head is too old for every later block (docs/protocol.md §3.5).
      if (readingTimeProblem(txctx.window, tx, head.time) === 'past') checkReadingTime(txctx.window, tx, head.time, 'the last block\'s time');
      signer = requiredSigner(state, txctx.operators, tx, { chain: txctx, height: at.height });
      changes = applyTx(state, tx, at, txctx);
    } catch (e) {
      release?.();
      out.push((await isCommitted(tx)) ? { fate: 'inBlock', no, tx } : { fate: 'gone', no, tx, error: e as RejectionError });
      continue;
    }
    release?.();
    if (!(await verifyTxSignature(txctx, signer, tx))) throw new WriteAheadError(no, 'signature does not verify');
    state.accept(changes);
    out.push({ fate: 'live', no, tx });
  }
  return out;
}

/**
 * The node's start: move a 0.1 store's write-ahead keys to the files (./migrate-0.1.ts),
 * replay everything, release what blocks superseded, and tell of what is lost (logged at
 * warn, counted): readings to their meters (intake.emitDropped once a bridge listens),
 * other transactions to billing (intake.emitDroppedTx: a payment to its meter's bills topic).
 */
export async function recoverWriteAhead(
  store: LedgerStore, wal: WriteAheadLog, segments: readonly SegmentRead[], state: ChainState, txctx: TxContext,
  head: { height: number; time: number }, intake: Intake, metrics: NodeMetrics, logger: Logger,
): Promise<{ entries: { no: number; tx: SignedTx<TxBody> }[]; nextNo: number }> {
  for (const s of segments) {
    if (s.tornBytes) logger.warn({ segment: s.id, bytes: s.tornBytes }, 'write-ahead: an unfinished write at the end of a segment was ignored (it was never acknowledged)');
  }
  const fromWal = segments.flatMap((s) => s.entries);
  const moved = await moveLegacyWriteAhead(store, wal, new Set(fromWal.map((e) => e.no)));
  if (moved.length) logger.info({ moved: moved.length }, 'write-ahead entries moved from the store to their own files');
  const all = [...moved, ...fromWal];
  let replayed: Replayed[];
  try {
    replayed = await replayWriteAhead(all, state, txctx, head, async (tx) => (tx.body.type === TxType.Reading
      ? (await committedReading(store, txctx.chainId, tx.body.meterId, tx.body.seq, tx)) !== undefined
      : (await store.txPosition(tx.hash)) !== undefined));
  } catch (e) {
    if (e instanceof WriteAheadError) throw new ProtocolError('E_STORE_CORRUPT', e.message, { cause: e });
    throw e;
  }
  const entries = [];
  const stale: number[] = [];
  const gone = { inBlocks: 0, operator: 0, dropped: 0 };
  for (const r of replayed) {
    if (r.fate === 'live') {
      entries.push({ no: r.no, tx: r.tx });
      continue;
    }
    stale.push(r.no);
    if (r.fate === 'inBlock') {
      gone.inBlocks++;
      logger.debug({ entry: r.no, meterId: txMeter(r.tx.body) }, 'write-ahead entry already in a block; released');
    } else if (r.tx.body.type !== TxType.Reading) {
      // Not in a block (the index by hash says so): a block made it invalid.
      gone.operator++;
      logger.warn({ entry: r.no, type: r.tx.body.type, meterId: txMeter(r.tx.body), txHash: r.tx.hashHex, code: r.error.code, reason: r.error.message },
        'write-ahead: an accepted operator or ledger transaction is no longer valid after a block; dropped');
      if (r.tx.body.type === TxType.Payment) metrics.paymentDropped(r.error.code);
      intake.emitDroppedTx({ tx: r.tx, code: r.error.code, message: r.error.message });
    } else {
      const { meterId, seq } = r.tx.body;
      gone.dropped++;
      logger.warn({ entry: r.no, meterId, seq: seq.toString(), txHash: r.tx.hashHex, code: r.error.code, reason: r.error.message },
        'write-ahead: an accepted reading is no longer valid after a block; dropped, the meter is told');
      metrics.readingDropped(r.error.code);
      intake.emitDropped({ meterId, seq, txHash: r.tx.hash, code: r.error.code, message: r.error.message });
    }
  }
  if (gone.inBlocks) logger.info({ released: gone.inBlocks }, 'write-ahead entries already in blocks were released');
  if (gone.operator) logger.warn({ dropped: gone.operator }, 'accepted operator or ledger transactions that blocks made invalid were dropped (each logged above; payments counted in meterledger_payments_dropped_total)');
  if (gone.dropped) logger.warn({ dropped: gone.dropped }, 'accepted readings that blocks made invalid were dropped (each logged above, counted in meterledger_readings_dropped_total)');
  wal.release(stale);
  if (entries.length) logger.info({ recovered: entries.length }, 'recovered accepted transactions from the write-ahead');
  const nextNo = all.reduce((n, e) => Math.max(n, e.no + 1), wal.nextNo);
  return { entries, nextNo };
}
