/**
 * Consensus messages from peers: decoded (./messages.ts, bounded), signed by a validator
 * of the message's height (its own signature, whoever relayed it), and a proposal's header
 * naming the right proposer; then handed to the runner, which sorts them by height.
 * Status messages (a peer's committed height) go to sync.
 */
import type { Logger } from '../api.js';
import type { NodeMetrics } from '../metrics.js';
import { type PeerMessage, type SignedProposal, decodePeerMessage } from '../../protocols/index.js';
import type { MessageSigner } from './ports.js';
import type { ConsensusRunner } from './runner.js';
import type { Validator, ValidatorSets } from './types.js';

export interface PeerInputOptions {
  readonly sets: ValidatorSets;
  /** A message for a height whose set we do not know yet: we are behind (sync). */
  readonly onAhead?: () => void;
  readonly signer: MessageSigner;
  readonly runner: ConsensusRunner;
  /** A peer told its committed height. */
  readonly onStatus: (from: string, height: number) => void;
  readonly metrics: Pick<NodeMetrics, 'consensusMessage'>;
  readonly logger: Logger;
}

/**
 * What is wrong with a proposal's header for its round, if anything. A fresh block names
 * its maker, the round's proposer. One proposed again with its validRound (Alg. 1 lines
 * 14-16) keeps the header an earlier proposer made: it can only win prevotes with a polka
 * of that round (line 28), whose honest voters checked the header when it was fresh.
 */
export function proposalHeaderProblem(m: SignedProposal, validators: readonly Validator[]): string | undefined {
  const hp = m.block.header.proposer;
  if (m.validRound === -1) return hp !== m.from ? 'header names another proposer' : undefined;
  return validators.some((v) => v.id === hp) ? undefined : 'header names no validator';
}

export class PeerInput {
  constructor(private readonly opts: PeerInputOptions) {}

  /** Bytes a peer sent on the consensus subject. */
  onBytes(from: string, payload: Uint8Array): void {
    let m: PeerMessage;
    try {
      m = decodePeerMessage(payload);
    } catch (e) {
      this.opts.logger.debug({ from, code: (e as { code?: string }).code, err: (e as Error).message }, 'undecodable consensus message');
      return;
    }
    this.take(from, m);
  }

  /** A decoded message from peer `from` (onBytes decodes; the simulation too sends bytes). */
  take(from: string, m: PeerMessage): void {
    if (m.t === 'status') {
      this.opts.onStatus(from, m.height);
      return;
    }
    const set = this.opts.sets(m.height);
    if (!set) {
      this.opts.onAhead?.(); // its set follows from blocks we do not have yet
      return;
    }
    if (!set.some((v) => v.id === m.from)) return;
    if (!this.opts.signer.verify(m)) {
      this.opts.logger.warn({ from: m.from, type: m.t, code: 'E_P2P_BAD_SIGNATURE' }, 'consensus message with a bad signature dropped');
      return;
    }
    this.opts.metrics.consensusMessage(m.t);
    const problem = m.t === 'proposal' ? proposalHeaderProblem(m, set) : undefined;
    if (problem) this.opts.logger.warn({ from: m.from, height: m.height, reason: problem }, 'invalid proposal: no prevote for it');
    this.opts.runner.deliver(m, problem);
  }
}
