/**
 * The ChainPort (./ports.ts) over the node's chain: getValue() takes the waiting
 * transactions that are valid in order on the committed state; valid() checks a block on
 * our head (header fields, Merkle root, every transaction); commit() stores a checked
 * block with its certificate through the chain writer. What a check found (the decoded
 * transactions and the meter records they change) is kept for the commit, per height.
 */
import { type Block, type CommitCertificate, type Genesis, encodeBlock, equalBytes, headerHash, makeHeader, toHex } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { ChainWriter } from '../chain.js';
import type { Mempool } from '../mempool.js';
import type { Registry } from '../registry.js';
import type { MeterRecord } from '../rules.js';
import type { LedgerStore } from '../store/store.js';
import { InvalidTxError, type TxContext, checkTxs, selectTxs } from '../validate.js';
import type { BlockValue } from './messages.js';
import type { ChainPort, Scheduler } from './ports.js';

type Checked = { decoded: Awaited<ReturnType<typeof checkTxs>>['decoded']; changed: Map<string, MeterRecord> };

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
  readonly registry: Registry;
  readonly txctx: TxContext;
  readonly logger: Logger;
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
    const { writer, registry, mempool, blockMaxTxs, genesis, txctx } = this.opts;
    const head = writer.head;
    const time = Math.max(this.opts.scheduler.now(), head.time ?? 0);
    const waiting = mempool.peek(blockMaxTxs * 2).map((p) => p.tx); // signatures were checked at intake
    const { decoded, changed } = selectTxs(txctx, registry.committed, waiting, time, blockMaxTxs);
    const txs = decoded.map((t) => t.bytes);
    const header = makeHeader({
      chainId: genesis.chainId, height, time, prevHash: head.hash, proposer: this.opts.validatorId!,
    }, txs);
    const block = { header, txs };
    const id = toHex(headerHash(header));
    this.cache().set(id, { decoded, changed });
    return { block, bytes: encodeBlock(block), id };
  }

  async check(block: Block): Promise<boolean> {
    const id = toHex(headerHash(block.header));
    const known = this.cache().get(id);
    if (known !== undefined) return known !== null;
    let result: Checked | null;
    try {
      result = await this.checkBlock(block);
    } catch (e) {
      this.opts.logger.warn({ height: block.header.height, proposer: block.header.proposer, reason: (e as Error).message }, 'invalid block: no vote for it');
      result = null;
    }
    this.cache().set(id, result);
    return result !== null;
  }

  async commit(block: Block, commit: CommitCertificate): Promise<void> {
    const id = toHex(headerHash(block.header));
    const c = this.cache().get(id) ?? (await this.checkBlock(block));
    await this.opts.writer.commit(block, commit, c.decoded, c.changed);
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

  /** A block is valid on our head: header fields, Merkle root, and every transaction. */
  private async checkBlock(block: Block): Promise<Checked> {
    const { writer, genesis, txctx, registry } = this.opts;
    const head = writer.head;
    const hd = block.header;
    const fail = (why: string): never => {
      throw new Error(why);
    };
    if (hd.chainId !== genesis.chainId) fail('another chain');
    if (hd.height !== head.height + 1) fail(`height ${hd.height}, expected ${head.height + 1}`);
    if (!equalBytes(hd.prevHash, head.hash)) fail('prevHash is not our head');
    if (hd.time < (head.time ?? 0)) fail('time goes backwards');
    if (hd.time > this.opts.scheduler.now() + (this.opts.maxClockDriftMs ?? 60_000)) fail('time is too far ahead of our clock');
    if (hd.txCount !== block.txs.length || block.txs.length > genesis.params.maxBlockTxs) fail('bad txCount');
    const rebuilt = makeHeader({ chainId: hd.chainId, height: hd.height, time: hd.time, prevHash: hd.prevHash, proposer: hd.proposer }, block.txs);
    if (!equalBytes(rebuilt.txRoot, hd.txRoot)) fail('txRoot is not the Merkle root of the transactions');
    try {
      return await checkTxs(txctx, registry.committed, block.txs, hd.time);
    } catch (e) {
      if (e instanceof InvalidTxError) return fail(e.message);
      throw e;
    }
  }
}
