/**
 * Where a block is checked: `validateBlock`, the one validity function for a proposal
 * (consensus), a block fetched from a peer (sync) and a stored block (the audit), after
 * cometbft's state/validation.go. Header rules (chain, height, parent hash, time never
 * going back nor too far ahead of our clock, a proposer of the validator set, txCount),
 * the Merkle root, the commit certificate when there is one, and every transaction in
 * order through the state rules (state/rules.ts) and the reading time window of the
 * block's time (docs/protocol.md §3.5). Signers are found and rules applied in order (a
 * rotation changes the key of what follows); the signature checks of a block all go to
 * the worker pool at once.
 */
import {
  type Block, type BlockContext, type CommitCertificate, type Genesis, ReasonCode, RejectionError, type SignedTx, type StateChange,
  StateOverlay, type StateReader, type TxBody, commitProblem, decodeAnyTx, equalBytes, leafHash, merkleRootOfLeafHashes, scheduleFromState, toHex,
} from '../../protocols/index.js';
import { type TxContext, verifyTxSignature } from '../signatures.js';
import { checkReadingTime } from '../state/meter.js';
import { applyTx, requiredSigner } from '../state/rules.js';

/** A block that breaks a rule; `reason` says which, for logs and the audit. */
export class InvalidBlockError extends Error {
  override readonly name: string = 'InvalidBlockError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A block whose transaction `index` breaks a rule (`code` of docs/protocol.md §9). */
export class InvalidTxError extends InvalidBlockError {
  override readonly name = 'InvalidTxError';
  constructor(readonly index: number, reason: string, readonly code: ReasonCode) {
    super(`transaction ${index}: ${code}: ${reason}`);
  }
}

/** The block a new one must follow (height 0: genesis, its hash, no time). */
export interface Parent {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly time: number | undefined;
}

/** What committing a valid block takes: its transactions decoded, and the state changes they make. */
export interface CheckedBlock {
  readonly decoded: SignedTx<TxBody>[];
  readonly changes: StateChange[];
  /** RFC 6962 leaf hashes of the block's transactions, in order, as its txRoot was checked or made: the receipts' paths reuse them. */
  readonly leafHashes?: readonly Uint8Array[];
}

export interface BlockRules extends TxContext {
  readonly genesis: Genesis;
}

export interface ValidateOptions {
  /** Check this certificate too (sync, the audit; consensus has none yet). */
  readonly commit?: CommitCertificate;
  /** Our clock, for the rule on block times ahead of it (consensus, sync); the audit has none. */
  readonly now?: number;
  /** How far ahead of `now` a block's time may be (default 60 s). */
  readonly maxClockDriftMs?: number;
}

export const DEFAULT_MAX_CLOCK_DRIFT_MS = 60_000;

/** Check `block` on `parent` and the state after it; throws InvalidBlockError naming the first broken rule. */
export async function validateBlock(rules: BlockRules, parent: Parent, state: StateReader, block: Block, opts: ValidateOptions = {}): Promise<CheckedBlock> {
  const hd = block.header;
  const { genesis } = rules;
  const h = parent.height + 1;
  const fail = (why: string): never => {
    throw new InvalidBlockError(why);
  };
  if (hd.chainId !== genesis.chainId) fail(`header chain id "${hd.chainId}" is not "${genesis.chainId}"`);
  if (hd.height !== h) fail(`header says height ${hd.height}, expected ${h}`);
  if (!equalBytes(hd.prevHash, parent.hash)) fail(`prevHash ${toHex(hd.prevHash)} is not the hash of block ${h - 1} (${toHex(parent.hash)})`);
  if (hd.time < (parent.time ?? 0)) fail('time goes backwards');
  if (opts.now !== undefined && hd.time > opts.now + (opts.maxClockDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS)) fail('time is too far ahead of our clock');
  // The set of this height (docs/protocol.md §13.4), from the parent's state: its proposer and its certificate.
  const set = scheduleFromState(genesis.validators, state).at(h);
  if (!set.some((v) => v.id === hd.proposer)) fail(`header names proposer "${hd.proposer}", which is no validator at height ${h}`);
  if (hd.txCount !== block.txs.length) fail(`txCount ${hd.txCount} but ${block.txs.length} transactions`);
  if (block.txs.length > genesis.params.maxBlockTxs) fail('more transactions than genesis maxBlockTxs');
  const leafHashes = block.txs.map(leafHash);
  if (!equalBytes(merkleRootOfLeafHashes(leafHashes), hd.txRoot)) fail('txRoot is not the Merkle root of the transactions');
  if (opts.commit) {
    const problem = commitProblem({ chainId: genesis.chainId, validators: set }, hd, opts.commit);
    if (problem) fail(`commit certificate: ${problem}`);
  }
  return { ...(await checkTxs(rules, state, block.txs, { height: hd.height, time: hd.time })), leafHashes };
}

/**
 * Check the transactions of a block at `at`, in order on top of `base`. Returns them
 * decoded with the state changes they make; throws InvalidTxError naming the first bad one.
 */
export async function checkTxs(ctx: TxContext, base: StateReader, txs: readonly Uint8Array[], at: BlockContext): Promise<CheckedBlock> {
  const view = new StateOverlay(base);
  const decoded: SignedTx<TxBody>[] = [];
  const checks: Promise<boolean>[] = [];
  const fail = (i: number, e: unknown): never => {
    throw new InvalidTxError(i, (e as Error).message, e instanceof RejectionError ? e.code : ReasonCode.MALFORMED);
  };
  // Decoded first, so the readings the block's bills need are loaded before any rule runs
  // (state/ledger.ts); a transaction that does not decode fails at its place in order.
  const parsed = txs.map((bytes) => {
    try {
      return decodeAnyTx(bytes, ctx.maxTxBytes);
    } catch (e) {
      return e as Error;
    }
  });
  const release = await ctx.bills?.prepare(parsed.filter((t): t is SignedTx<TxBody> => !(t instanceof Error)));
  try {
    parsed.forEach((tx, i) => {
      if (tx instanceof Error) return fail(i, tx);
      try {
        checkReadingTime(ctx.window, tx, at.time);
        const signer = requiredSigner(view, ctx.operators, tx, { chain: ctx, height: at.height });
        checks.push(verifyTxSignature(ctx, signer, tx));
        view.apply(applyTx(view, tx, at, ctx));
        decoded.push(tx);
      } catch (e) {
        fail(i, e);
      }
    });
  } finally {
    release?.();
  }
  const oks = await Promise.all(checks);
  const bad = oks.indexOf(false);
  if (bad >= 0) throw new InvalidTxError(bad, 'signature does not verify', ReasonCode.BAD_SIGNATURE);
  return { decoded, changes: view.list() };
}
