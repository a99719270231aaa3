/**
 * The validator set on the node (docs/protocol.md §13): the rule of transaction type 20
 * and the state record it writes. The record (kind validatorSet, id "sets") holds every
 * set since genesis with the first height it is in force, and the hash of the change that
 * made it: protocols' ValidatorSchedule reads it (scheduleFromState), so the set of any
 * height is a function of the committed state, saved with each block like every record.
 */
import {
  Alg, type BlockContext, type GenesisValidator, ReasonCode, RejectionError, type SetEpoch, type SignedTx, type StateChange, StateKind, type StateReader,
  type TxBody, type ValidatorSetTxBody, ValidatorSetOp, VALSET_STATE_ID, VALSET_TX_TYPE, applySetChange, approvalProblem, fromHex, scheduleFromState,
} from '../../protocols/index.js';
import type { ChainParams, Signer } from './meter.js';

/** One entry of the stored record: a set, the height it is in force from, the change that made it. */
export interface StoredSetEpoch extends SetEpoch {
  /** SHA-256 of the type 20 transaction, hex (its receipt: GET /api/v1/tx/<hash>/receipt). */
  readonly tx: string;
  /** The height of the block that included it (from - VALSET_DELAY). */
  readonly height: number;
}

const noRule = (): never => {
  throw new RejectionError(ReasonCode.SCHEMA, `transaction type ${VALSET_TX_TYPE} has no rule on this node`, 'type');
};

/** The stored epochs of `state` (none: genesis's set throughout). */
export const storedEpochs = (state: StateReader): readonly StoredSetEpoch[] => (state.get(StateKind.ValidatorSet, VALSET_STATE_ID) as StoredSetEpoch[] | undefined) ?? [];

/**
 * The key a set change must be signed with: that of its kid in the set in force at
 * `height` (the including block's; without one, the gossip's pre-check, the latest set).
 * Undefined when kid is no member: apply then says why.
 */
export function valsetSigner(state: StateReader, chain: ChainParams | undefined, tx: SignedTx<TxBody>, height: number | undefined): Signer | undefined {
  if (!chain?.valset) return undefined;
  const schedule = scheduleFromState(chain.valset.genesis, state);
  const set = height === undefined ? schedule.latest : schedule.at(height);
  const v = set.find((x) => x.id === tx.cose.kid);
  return v ? { alg: Alg.EdDSA, publicKey: fromHex(v.publicKey) } : undefined;
}

/**
 * The rule (§13.2-§13.4), the same checks as a receipt checker's (protocols'
 * followSetChanges): the next number; submitted (COSE, EdDSA) by one of its approvers
 * (a rotation: by the rotated validator, with its current key); approvals of more than
 * 2/3 of S(H); the change applying to the latest set. Records the result, in force from
 * H + VALSET_DELAY.
 */
export function applyValidatorSetChange(state: StateReader, tx: SignedTx<ValidatorSetTxBody>, block: BlockContext, chain: ChainParams): StateChange[] {
  if (!chain.valset) return noRule();
  const { body } = tx;
  const schedule = scheduleFromState(chain.valset.genesis, state);
  const next = schedule.changes + 1;
  if (body.seq !== next) throw new RejectionError(ReasonCode.VALSET_SEQ, `this is change ${body.seq}; the next change is ${next}`, 'seq');
  const set = schedule.at(block.height);
  const kid = tx.cose.kid;
  if (kid === undefined || !set.some((v) => v.id === kid)) throw new RejectionError(ReasonCode.VALSET_APPROVAL, `submitted by "${kid ?? ''}", no validator at height ${block.height}`, 'kid');
  if (tx.cose.alg !== Alg.EdDSA) throw new RejectionError(ReasonCode.BAD_ALG, 'a set change is signed with EdDSA (alg -8)', 'alg');
  if (!body.approvals.some((a) => a.validator === kid)) throw new RejectionError(ReasonCode.VALSET_APPROVAL, `submitted by "${kid}", not one of its approvers`, 'kid');
  if (body.op === ValidatorSetOp.RotateKey && kid !== body.validator) throw new RejectionError(ReasonCode.VALSET_APPROVAL, `a key rotation is submitted by ${body.validator} itself`, 'kid');
  const problem = approvalProblem(chain.valset.chainId, set, body);
  if (problem) throw new RejectionError(ReasonCode.VALSET_APPROVAL, problem, 'approvals');
  // Plain records, as genesis's parsed ones may carry more than the set needs.
  const result: GenesisValidator[] = applySetChange(schedule.latest, body).map((v) => ({ id: v.id, alg: v.alg, publicKey: v.publicKey, power: v.power }));
  schedule.push(block.height, result); // throws on a height below the last change's: the rule's caller broke order
  const epochs: StoredSetEpoch[] = [...storedEpochs(state), { from: schedule.list.at(-1)!.from, validators: result, tx: tx.hashHex, height: block.height }];
  return [{ kind: StateKind.ValidatorSet, id: VALSET_STATE_ID, value: epochs }];
}
