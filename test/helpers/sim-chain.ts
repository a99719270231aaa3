/**
 * What a simulated validator stands on, in memory: a chain of test blocks (ChainPort) and
 * a signer (MessageSigner), for running the production consensus runner many times a
 * second. Blocks are real blocks (headers, Merkle roots, hashes) of one small test
 * transaction each; one whose transaction starts with "bad" is invalid, as a forged
 * reading would be. Signatures are keyed SHA-512 tags, 64 bytes like Ed25519's: as in
 * production only the holder of a validator's secret can make its tag (the Byzantine
 * validator has its own, not the others'), at a thousandth of the cost.
 */
import { createHash } from 'node:crypto';
import {
  type Block, type BlockHeader, type CommitCertificate, type Genesis, commitProblem, encodeBlock, encodeCommit, equalBytes, headerHash,
  makeHeader, merkleRoot, toHex, utf8,
} from '../../protocols/index.js';
import { type BlockValue, idHash } from '../../ledger-node/consensus/messages.js';
import type { ChainPort, MessageSigner, Scheduler, SignedMessage } from '../../ledger-node/consensus/ports.js';
import type { ConsensusMessage, Validator } from '../../ledger-node/consensus/types.js';

const decoder = new TextDecoder();

/** A genesis of `validators` for the checks that need one (commitProblem): keys are never used. */
export function simGenesis(chainId: string, validators: readonly Validator[]): Pick<Genesis, 'chainId' | 'validators'> {
  return { chainId, validators: validators.map((v) => ({ id: v.id, power: v.power, alg: 'Ed25519', publicKey: '00'.repeat(32) })) } as Pick<Genesis, 'chainId' | 'validators'>;
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

  constructor(
    private readonly chainId: string,
    private readonly me: string,
    private readonly genesisHash: Uint8Array,
    private readonly clock: Scheduler,
    private readonly validators: ReadonlySet<string>,
  ) {}

  head() {
    const last = this.blocks.at(-1);
    return { height: this.blocks.length, hash: last?.hash ?? this.genesisHash, time: last?.block.header.time };
  }

  propose(height: number): BlockValue {
    const head = this.head();
    const txs = [utf8(`${this.me}:${height}:${this.nonce++}`)];
    return simBlock(makeHeader({ chainId: this.chainId, height, time: Math.max(this.clock.now(), head.time ?? 0), prevHash: head.hash, proposer: this.me }, txs), txs);
  }

  async check(block: Block): Promise<boolean> {
    const head = this.head();
    const h = block.header;
    return h.chainId === this.chainId && h.height === head.height + 1 && equalBytes(h.prevHash, head.hash) && h.time >= (head.time ?? 0) &&
      this.validators.has(h.proposer) && h.txCount === block.txs.length && equalBytes(merkleRoot(block.txs), h.txRoot) &&
      !block.txs.some((t) => decoder.decode(t).startsWith('bad'));
  }

  async commit(block: Block, commit: CommitCertificate): Promise<void> {
    const hash = headerHash(block.header);
    this.blocks.push({ block, hash, id: toHex(hash), commit });
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

/** Signs as `me` (its own secret only); checks anyone's. */
export class SimSigner implements MessageSigner {
  constructor(private readonly me: string, private readonly genesis: Pick<Genesis, 'chainId' | 'validators'>) {}

  sign(m: ConsensusMessage<BlockValue>): SignedMessage {
    if (m.from !== this.me) throw new Error(`${this.me} cannot sign for ${m.from}`);
    if (m.type === 'proposal') {
      const blockHash = headerHash(m.value.block.header);
      return { t: 'proposal', from: m.from, height: m.height, round: m.round, validRound: m.validRound, blockBytes: m.value.bytes, block: m.value.block, blockHash, signature: tag(m.from, proposalKey(m.height, m.round, m.validRound, blockHash)) };
    }
    const blockHash = idHash(m.valueId);
    return { t: m.type, from: m.from, height: m.height, round: m.round, blockHash, signature: tag(m.from, voteKey(m.type, m.height, m.round, blockHash)) };
  }

  verify(m: SignedMessage): boolean {
    const what = m.t === 'proposal' ? proposalKey(m.height, m.round, m.validRound, m.blockHash) : voteKey(m.t, m.height, m.round, m.blockHash);
    return equalBytes(tag(m.from, what), m.signature);
  }

  commitProblem(header: BlockHeader, commit: CommitCertificate): string | undefined {
    // protocols' own check, with the sim's tags in place of Ed25519 (its other rules unchanged).
    return commitProblem(this.genesis, header, commit, (v, _msg, sig) => equalBytes(tag(v.id, voteKey('precommit', commit.height, commit.round, commit.blockHash)), sig));
  }
}
