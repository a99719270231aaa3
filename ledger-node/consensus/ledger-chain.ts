/**
 * The ChainPort (./ports.ts) over the node's chain: getValue() is blocks/produce.ts,
 * valid() is blocks/validate.ts (the validateBlock of sync and the audit too), commit()
 * stores a checked block with its certificate through the chain writer
 * (blocks/commit.ts). What a check found (the decoded transactions and the state changes
 * they make) is kept for the commit, per height.
 */
import { type Block, type CommitCertificate, type Genesis, headerHash, toHex } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { ProposalRewrite } from '../blocks/byzantine-bill.js';
import type { ChainWriter } from '../blocks/commit.js';
import { produceBlock } from '../blocks/produce.js';
import { type CheckedBlock, validateBlock } from '../blocks/validate.js';
import type { Mempool } from '../mempool.js';
import type { TxContext } from '../signatures.js';
import type { ChainState } from '../state/layers.js';
import type { LedgerStore } from '../store/store.js';
import type { BlockValue } from './messages.js';
import type { ChainPort, Scheduler } from './ports.js';
import { probe } from '../latency-probe.js';

type Checked = CheckedBlock;

export interface LedgerChainOptions {
  readonly genesis: Genesis;
  /** Our validator id: the proposer our blocks name. */
  readonly validatorId: string | undefined;
  readonly blockMaxTxs: number;
  /** How far ahead of our clock a proposed block's time may be (default 60 s). */
  readonly maxClockDriftMs?: number;
  readonly scheduler: Scheduler;
  readonly writer: ChainWriter;
  readonly store: LedgerStore;
  readonly mempool: Mempool;
  readonly state: ChainState;
  readonly txctx: TxContext;
  readonly logger: Logger;
  /** TEST ONLY: a Byzantine proposer's rewrite of its blocks (blocks/byzantine-bill.ts). */
  readonly proposalRewrite?: ProposalRewrite;
}

export class LedgerChain implements ChainPort {
  /** Blocks checked on the current head: id -> what committing them changes (null: invalid). */
  private checked = new Map<string, Checked | null>();
  private checkedOn = -1;

  constructor(private readonly opts: LedgerChainOptions) {}

  head() {
    return this.opts.writer.head;
  }

  /** getValue(): the waiting transactions that are valid in order on the committed state. */
  propose(height: number): BlockValue {
    const { writer, state, mempool, blockMaxTxs, genesis, txctx } = this.opts;
    const head = writer.head;
    if (height !== head.height + 1) throw new Error(`asked to propose at height ${height} on head ${head.height}`);
    const end = probe?.phase('propose');
    const waiting = mempool.peek(blockMaxTxs * 2).map((p) => p.tx); // signatures were checked at intake
    const p = produceBlock(txctx, head, state.committed, waiting, { chainId: genesis.chainId, proposer: this.opts.validatorId!, now: this.opts.scheduler.now(), maxTxs: blockMaxTxs,
      ...(this.opts.proposalRewrite ? { rewrite: this.opts.proposalRewrite } : {}),
    });
    this.cache().set(p.id, p.checked);
    end?.();
    return { block: p.block, bytes: p.bytes, id: p.id };
  }

  async check(block: Block): Promise<boolean> {
    const id = toHex(headerHash(block.header));
    const known = this.cache().get(id);
    if (known !== undefined) return known !== null;
    let result: Checked | null;
    try {
      result = await this.checkBlock(block);
    } catch (e) {
      this.opts.logger.warn({ height: block.header.height, proposer: block.header.proposer, code: (e as { code?: string }).code, reason: (e as Error).message }, 'invalid block: no vote for it');
      result = null;
    }
    this.cache().set(id, result);
    return result !== null;
  }

  async commit(block: Block, commit: CommitCertificate): Promise<void> {
    const id = toHex(headerHash(block.header));
    const c = this.cache().get(id) ?? (await this.checkBlock(block));
    await this.opts.writer.commit(block, commit, c);
  }

  async stored(height: number): Promise<{ block: Uint8Array; commit: Uint8Array } | undefined> {
    const [block, commit] = await Promise.all([this.opts.store.blockBytes(height), this.opts.store.commitBytes(height)]);
    return block && commit ? { block, commit } : undefined;
  }

  /** The checks of the current head (a new head forgets the last one's). */
  private cache(): Map<string, Checked | null> {
    if (this.checkedOn !== this.opts.writer.head.height) {
      this.checked = new Map();
      this.checkedOn = this.opts.writer.head.height;
    }
    return this.checked;
  }

  /** A block is valid on our head (blocks/validate.ts): header, Merkle root, every transaction. */
  private checkBlock(block: Block): Promise<Checked> {
    const { writer, genesis, txctx, state, scheduler, maxClockDriftMs } = this.opts;
    return validateBlock({ ...txctx, genesis }, writer.head, state.committed, block, { now: scheduler.now(), ...(maxClockDriftMs !== undefined ? { maxClockDriftMs } : {}) });
  }
}
