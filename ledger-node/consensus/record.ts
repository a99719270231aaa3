/**
 * The consensus record: what a validator must find on disk after a crash to go on where it
 * stopped without contradicting itself (docs/consensus.md, "Crash recovery"). Three parts,
 * per height, all written before the message that depends on them is sent:
 *
 *   the safety state   CBOR {height, round, step, locked: [round, blockHash] | null,
 *                            valid: [round, blockHash] | null, polka: [prevote bytes]}
 *   the blocks         locked and valid block bytes, by hash (to propose the valid one again)
 *   signed messages    every proposal and vote this validator signed, as sent
 *
 * Restoring checks everything: encodings, our signature on our messages, the validators'
 * on the polka, the blocks' hashes, and that the state is at least as far on as what was
 * signed (core.ts restoreProblem). Whatever fails is an E_CONSENSUS_STATE_CORRUPT: the
 * caller then does not vote at that height.
 */
import { ProtocolError, decodeBlock, decodeCanonicalCbor, encodeCbor, headerHash, toHex } from '../../protocols/index.js';
import { restoreProblem, signedKey } from './core.js';
import { type PeerMessage, type SignedProposal, type SignedVote, decodePeerMessage } from '../../protocols/index.js';
import { type BlockValue, toCoreMessage } from './messages.js';
import { type ConsensusMessage, type SafetyState, Step, type Validator, type Vote } from './types.js';

export const STATE_CORRUPT = 'E_CONSENSUS_STATE_CORRUPT';

export class RecordError extends ProtocolError {
  constructor(height: number, reason: string) {
    super(STATE_CORRUPT, `consensus record of height ${height}: ${reason}`);
  }
}

/** The record's parts as the store keeps them. */
export interface StoredRecord {
  readonly state: Uint8Array | undefined;
  /** Block bytes by block hash (hex). */
  readonly blocks: ReadonlyMap<string, Uint8Array>;
  readonly signed: readonly Uint8Array[];
}

/** Encode the safety state; the polka as the signed prevotes that travel. */
export function encodeSafetyState(s: SafetyState<BlockValue>, polka: readonly Uint8Array[]): Uint8Array {
  const ref = (x: { round: number; value: BlockValue } | null) => (x === null ? null : [x.round, headerHash(x.value.block.header)]);
  return encodeCbor({ height: s.height, round: s.round, step: s.step, locked: ref(s.locked), valid: ref(s.valid), polka: [...polka] });
}

export interface RestoreContext {
  readonly height: number;
  readonly me: string;
  readonly validators: readonly Validator[];
  /** Does `signature` by validator `from` verify over the message's sign bytes? */
  verify(m: Exclude<PeerMessage, { t: 'status' }>): boolean;
}

export interface Restored {
  /** What we signed at the height: for the core (`signed`), and as it travels, to send again. */
  readonly signed: Map<string, ConsensusMessage<BlockValue>>;
  readonly signedMessages: Map<string, SignedProposal | SignedVote>;
  readonly state: SafetyState<BlockValue> | undefined;
  /** The polka behind the valid value, as it travels, to gossip again. */
  readonly polka: readonly SignedVote[];
}

/** Decode and check a height's record. Throws RecordError naming what is wrong. */
export function restoreRecord(stored: StoredRecord, ctx: RestoreContext): Restored {
  const { height } = ctx;
  const fail = (why: string): never => {
    throw new RecordError(height, why);
  };
  const decode = (b: Uint8Array, what: string): Exclude<PeerMessage, { t: 'status' }> => {
    let m: PeerMessage;
    try {
      m = decodePeerMessage(b);
    } catch (e) {
      return fail(`${what} does not decode: ${(e as Error).message}`);
    }
    if (m.t === 'status') return fail(`${what} is a status message`);
    if (m.height !== height) return fail(`${what} is for height ${m.height}`);
    if (!ctx.verify(m)) return fail(`${what}: the signature of ${m.from} does not verify`);
    return m;
  };

  const signed = new Map<string, ConsensusMessage<BlockValue>>();
  const signedMessages = new Map<string, SignedProposal | SignedVote>();
  for (const b of stored.signed) {
    const m = decode(b, 'a signed message');
    if (m.from !== ctx.me) fail(`a signed message from ${m.from}, not from us`);
    const c = toCoreMessage(m);
    signed.set(signedKey(c), c);
    signedMessages.set(signedKey(c), m);
  }
  if (stored.state === undefined) {
    // Every signed message is written with (or after) a record: none means a store of a
    // version that kept no record, and what we precommitted may have locked us.
    if (signed.size > 0) fail(`${signed.size} signed messages but no safety state (a store written by a version that kept none)`);
    return { signed, signedMessages, state: undefined, polka: [] };
  }

  let m: unknown;
  try {
    m = decodeCanonicalCbor(stored.state);
  } catch (e) {
    return fail(`safety state is not deterministic CBOR: ${(e as Error).message}`);
  }
  if (!(m instanceof Map)) return fail('safety state is not a map');
  const int = (k: string, min: number): number => {
    const v = m.get(k);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`safety state: ${k} is not an integer >= ${min}`);
    return v as number;
  };
  if (int('height', 0) !== height) fail(`safety state is for height ${m.get('height')}`);
  const round = int('round', 0);
  const step = int('step', 0);
  if (step !== Step.Propose && step !== Step.Prevote && step !== Step.Precommit) fail(`safety state: step ${step}`);
  const value = (k: 'locked' | 'valid'): { round: number; value: BlockValue; valueId: string } | null => {
    const v = m.get(k);
    if (v === null) return null;
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !Number.isSafeInteger(v[0]) || !(v[1] instanceof Uint8Array) || v[1].length !== 32) {
      return fail(`safety state: ${k} is not [round, block hash]`);
    }
    const id = toHex(v[1]);
    const bytes = stored.blocks.get(id) ?? fail(`the ${k} block ${id} is missing`);
    let block;
    try {
      block = decodeBlock(bytes);
    } catch (e) {
      return fail(`the ${k} block does not decode: ${(e as Error).message}`);
    }
    if (toHex(headerHash(block.header)) !== id) fail(`the ${k} block does not hash to ${id}`);
    return { round: v[0], value: { block, bytes, id }, valueId: id };
  };
  const locked = value('locked');
  const valid = value('valid');
  const polkaRaw = m.get('polka');
  if (!Array.isArray(polkaRaw) || !polkaRaw.every((b) => b instanceof Uint8Array)) return fail('safety state: polka is not a list of messages');
  const polka: SignedVote[] = [];
  for (const b of polkaRaw as Uint8Array[]) {
    const pm = decode(b, 'a polka prevote');
    if (pm.t !== 'prevote') return fail(`a polka ${pm.t}`);
    polka.push(pm);
  }
  const state: SafetyState<BlockValue> = { height, round, step: step as Step, locked, valid: valid && { ...valid, polka: polka.map((v) => toCoreMessage(v) as Vote) } };
  const problem = restoreProblem(state, signed.values(), ctx.validators, (v) => v.id);
  if (problem) fail(problem);
  return { signed, signedMessages, state, polka };
}
