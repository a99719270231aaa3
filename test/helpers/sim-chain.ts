/**
 * What a simulated validator stands on, in memory: a chain of test blocks (ChainPort) and
 * a signer (MessageSigner), for running the production consensus runner many times a
 * second. Blocks are real blocks (headers, Merkle roots, hashes) of one small test
 * transaction each; one whose transaction starts with "bad" is invalid, as a forged
 * reading would be. Signatures are keyed SHA-512 tags, 64 bytes like Ed25519's: as in
 * production only the holder of a validator's secret can make its tag (the Byzantine
 * validator has its own, not the others'), at a thousandth of the cost. A validator's
 * "public key" here names its secret (`publicKey ?? id`), so a key rotation changes the
 * tags it makes and the ones others check.
 *
 * Set changes: a block may carry `valset:<seq>:<op>:<id>:<power>` transactions, valid only
 * when they are the next change of the chain's script (in production the approvals of more
 * than 2/3 of the power decide that: protocols/validator-set.ts; here the script stands
 * for them, and anything else, a Byzantine validator's own change included, is invalid).
 * A change committed at height H is in force from H + VALSET_DELAY, as in production.
 */
import { createHash } from 'node:crypto';
import {
  type Block, type BlockHeader, type CommitCertificate, commitProblem, encodeBlock, encodeCommit, equalBytes, headerHash,
  makeHeader, merkleRoot, toHex, utf8,
} from '../../protocols/index.js';
import { type BlockValue, idHash } from '../../ledger-node/consensus/messages.js';
import type { ChainPort, MessageSigner, Scheduler, SignedMessage } from '../../ledger-node/consensus/ports.js';
import type { ConsensusMessage, Validator, ValidatorSets } from '../../ledger-node/consensus/types.js';
import { asGenesisValidator } from '../../ledger-node/consensus/signer.js';
import { VALSET_DELAY } from '../../protocols/validator-set.js';
import type { SimLedgerNode } from './sim-ledger.js';

const decoder = new TextDecoder();

/** One scripted set change (stands for an approved type 20 transaction). */
export interface SimSetChange {
  readonly op: 'add' | 'remove' | 'power' | 'rotate';
  readonly id: string;
  readonly power?: number;
}

export const simChangeTx = (seq: number, c: SimSetChange): string => `valset:${seq}:${c.op}:${c.id}:${c.power ?? ''}`;

/** The set after a scripted change. */
export function applySimChange(set: readonly Validator[], c: SimSetChange, seq: number): Validator[] {
  switch (c.op) {
    case 'add': return [...set, { id: c.id, power: c.power ?? 1 }];
    case 'remove': return set.filter((v) => v.id !== c.id);
    case 'power': return set.map((v) => (v.id === c.id ? { ...v, power: c.power! } : v));
    case 'rotate': return set.map((v) => (v.id === c.id ? { ...v, publicKey: `${c.id}#${seq}` } : v));
  }
}

export interface Committed {
  readonly block: Block;
  readonly hash: Uint8Array;
  readonly id: string;
  readonly commit: CommitCertificate;
}

export class SimChain implements ChainPort {
  /** Committed blocks by height - 1: the validator's block store, which a crash keeps. */
  readonly blocks: Committed[] = [];
  private nonce = 0;
  /** Each set and the first height it is in force; the first is genesis's. */
  private readonly epochs: { from: number; set: readonly Validator[] }[];

  constructor(
    private readonly chainId: string,
    private readonly me: string,
    private readonly genesisHash: Uint8Array,
    private readonly clock: Scheduler,
    genesisSet: readonly Validator[],
    private readonly script: readonly SimSetChange[] = [],
    /** Money (./sim-ledger.ts): the validator's ledger state, checked and applied with the real rules. */
    readonly ledger?: SimLedgerNode,
  ) {
    this.epochs = [{ from: 1, set: genesisSet }];
  }

  /** The set of each height, as the node's: known up to head + VALSET_DELAY. */
  readonly sets: ValidatorSets = (height) => {
    if (height > this.blocks.length + VALSET_DELAY) return undefined;
    for (let i = this.epochs.length - 1; i >= 0; i--) if (this.epochs[i]!.from <= height) return this.epochs[i]!.set;
    return this.epochs[0]!.set;
  };

  /** Set changes committed so far. */
  get changes(): number {
    return this.epochs.length - 1;
  }

  /** The set after every committed change (in force or pending). */
  get latestSet(): readonly Validator[] {
    return this.epochs.at(-1)!.set;
  }

  head() {
    const last = this.blocks.at(-1);
    return { height: this.blocks.length, hash: last?.hash ?? this.genesisHash, time: last?.block.header.time };
  }

  propose(height: number): BlockValue {
    const head = this.head();
    const txs: Uint8Array[] = [utf8(`${this.me}:${height}:${this.nonce++}`)];
    const next = this.script[this.changes];
    if (next) txs.push(utf8(simChangeTx(this.changes + 1, next))); // the next change, until it commits
    if (this.ledger) txs.push(...this.ledger.propose());
    return simBlock(makeHeader({ chainId: this.chainId, height, time: Math.max(this.clock.now(), head.time ?? 0), prevHash: head.hash, proposer: this.me }, txs), txs);
  }

  async check(block: Block): Promise<boolean> {
    const head = this.head();
    const h = block.header;
    return h.chainId === this.chainId && h.height === head.height + 1 && equalBytes(h.prevHash, head.hash) && h.time >= (head.time ?? 0) &&
      this.sets(h.height)!.some((v) => v.id === h.proposer) && h.txCount === block.txs.length && equalBytes(merkleRoot(block.txs), h.txRoot) &&
      !block.txs.some((t) => decoder.decode(t).startsWith('bad')) && this.changesIn(block) !== undefined &&
      (this.ledger?.valid(block.txs, h.height) ?? true);
  }

  /** The scripted changes `block` carries, in order from the next one; undefined if it carries any other. */
  changesIn(block: Block): SimSetChange[] | undefined {
    const out: SimSetChange[] = [];
    for (const t of block.txs) {
      const text = decoder.decode(t);
      if (!text.startsWith('valset:')) continue;
      const seq = this.changes + out.length + 1;
      const c = this.script[seq - 1];
      if (!c || text !== simChangeTx(seq, c)) return undefined;
      out.push(c);
    }
    return out;
  }

  async commit(block: Block, commit: CommitCertificate): Promise<void> {
    const hash = headerHash(block.header);
    const changes = this.changesIn(block);
    if (!changes) throw new Error(`block ${block.header.height} carries a set change out of the script`);
    this.ledger?.committed(block.txs, block.header.height);
    this.blocks.push({ block, hash, id: toHex(hash), commit });
    for (const c of changes) this.epochs.push({ from: block.header.height + VALSET_DELAY, set: applySimChange(this.latestSet, c, this.changes + 1) });
  }

  async stored(height: number): Promise<{ block: Uint8Array; commit: Uint8Array } | undefined> {
    const c = this.blocks[height - 1];
    return c && { block: encodeBlock(c.block), commit: encodeCommit(c.commit) };
  }
}

export function simBlock(header: BlockHeader, txs: Uint8Array[]): BlockValue {
  const block = { header, txs };
  return { block, bytes: encodeBlock(block), id: toHex(headerHash(header)) };
}

const tag = (id: string, what: string): Uint8Array => new Uint8Array(createHash('sha512').update(`sim-secret-of-${id}`).update(what).digest());
const voteKey = (t: string, height: number, round: number, blockHash: Uint8Array | null): string => `${t}/${height}/${round}/${blockHash ? toHex(blockHash) : 'nil'}`;
const proposalKey = (height: number, round: number, validRound: number, blockHash: Uint8Array): string => `proposal/${height}/${round}/${validRound}/${toHex(blockHash)}`;

/** The secret a validator's tags are made with at a height: its key's name. */
const keyOf = (sets: ValidatorSets, id: string, height: number): string | undefined => {
  const v = sets(height)?.find((x) => x.id === id);
  return v && (v.publicKey ?? v.id);
};

/** Signs as `me` (its own secrets only: the key of each height); checks anyone's against the set of the message's height. */
export class SimSigner implements MessageSigner {
  constructor(private readonly me: string, private readonly chainId: string, private readonly sets: ValidatorSets) {}

  sign(m: ConsensusMessage<BlockValue>): SignedMessage {
    if (m.from !== this.me) throw new Error(`${this.me} cannot sign for ${m.from}`);
    const key = keyOf(this.sets, this.me, m.height);
    if (key === undefined) throw new Error(`${this.me} is no validator at height ${m.height}`);
    if (m.type === 'proposal') {
      const blockHash = headerHash(m.value.block.header);
      return { t: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, blockBytes: m.value.bytes, block: m.value.block, blockHash, signature: tag(key, proposalKey(m.height, m.round, m.validRound, blockHash)) };
    }
    const blockHash = idHash(m.valueId);
    return { t: m.type, from: m.from, height: m.height, round: m.round, blockHash, signature: tag(key, voteKey(m.type, m.height, m.round, blockHash)) };
  }

  verify(m: SignedMessage): boolean {
    const key = keyOf(this.sets, m.from, m.height);
    if (key === undefined) return false;
    const what = m.t === 'proposal' ? proposalKey(m.height, m.round, m.validRound, m.blockHash) : voteKey(m.t, m.height, m.round, m.blockHash);
    return equalBytes(tag(key, what), m.signature);
  }

  commitProblem(header: BlockHeader, commit: CommitCertificate): string | undefined {
    const set = this.sets(header.height);
    if (!set) return `the validator set of height ${header.height} is not known`;
    // protocols' own check, with the sim's tags in place of Ed25519 (its other rules unchanged).
    return commitProblem({ chainId: this.chainId, validators: set.map(asGenesisValidator) }, header, commit,
      (v, _msg, sig) => equalBytes(tag(keyOf(this.sets, v.id, header.height)!, voteKey('precommit', commit.height, commit.round, commit.blockHash)), sig));
  }
}
