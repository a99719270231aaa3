/**
 * Where a block is made: the proposer's block for the next height (getValue() of
 * Tendermint Alg. 1), from the waiting transactions valid in order on the committed
 * state, by the same rules validateBlock (./validate.ts) checks.
 */
import {
  type Block, type BlockContext, type SignedTx, type TxBody, StateOverlay, type StateReader, TxType, encodeBlock, headerHash, leafHash, makeHeader, toHex,
} from '../../protocols/index.js';
import type { TxContext } from '../signatures.js';
import { readingTimeProblem } from '../state/meter.js';
import { txMeter } from '../state/ledger.js';
import { applyTx } from '../state/rules.js';
import type { ProposalRewrite } from './byzantine-bill.js';
import type { CheckedBlock, Parent } from './validate.js';

export interface ProducedBlock {
  readonly block: Block;
  /** encodeBlock(block). */
  readonly bytes: Uint8Array;
  /** Hex of the header hash. */
  readonly id: string;
  /** What committing it takes, as validateBlock would have found it. */
  readonly checked: CheckedBlock;
}

/**
 * A proposal's transactions: of `waiting` (signatures checked at intake), in order, those
 * valid on `base` in a block at `at`, at most `max`. A reading too new for this block
 * holds back its meter's later ones (they would take its seq); one too old, or made
 * invalid by a peer's block, is left out (the chain writer drops it after the next block).
 */
export function selectTxs(ctx: TxContext, base: StateReader, waiting: Iterable<SignedTx<TxBody>>, at: BlockContext, max: number): CheckedBlock {
  const view = new StateOverlay(base);
  const decoded: SignedTx<TxBody>[] = [];
  const held = new Set<string>();
  for (const tx of waiting) {
    if (decoded.length >= max) break;
    const meter = txMeter(tx.body);
    if (meter !== undefined && held.has(meter)) continue;
    const time = readingTimeProblem(ctx.window, tx, at.time);
    if (time === 'future' && tx.body.type === TxType.Reading) held.add(tx.body.meterId);
    if (time !== undefined) continue;
    try {
      view.apply(applyTx(view, tx, at, ctx));
      decoded.push(tx);
    } catch {
      /* made invalid by a block from a peer; the chain writer drops it */
    }
  }
  return { decoded, changes: view.list() };
}

/** The block `proposer` makes on `parent` at `now` (never before the parent's time). */
export function produceBlock(
  ctx: TxContext, parent: Parent, base: StateReader, waiting: Iterable<SignedTx<TxBody>>,
  o: { chainId: string; proposer: string; now: number; maxTxs: number; /** TEST ONLY (./byzantine-bill.ts). */ rewrite?: ProposalRewrite },
): ProducedBlock {
  const height = parent.height + 1;
  const time = Math.max(o.now, parent.time ?? 0);
  const checked = selectTxs(ctx, base, waiting, { height, time }, o.maxTxs);
  const txs = checked.decoded.map((t) => o.rewrite?.(t) ?? t.bytes);
  const leafHashes = txs.map(leafHash);
  const header = makeHeader({ chainId: o.chainId, height, time, prevHash: parent.hash, proposer: o.proposer }, txs, leafHashes);
  const block = { header, txs };
  return { block, bytes: encodeBlock(block), id: toHex(headerHash(header)), checked: { ...checked, leafHashes } };
}
