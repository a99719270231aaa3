/**
 * The transaction type registry (protocols/state.ts lists the numbers): for each type,
 * who must sign it and what it changes. Intake, block production, block validation and
 * the audit all go through `requiredSigner` and `applyTx`, so a new feature adds its
 * types here (issue 12: accounts, tariffs, bills, mandates, payments; issue 14: period
 * keys; issue 16: the validator set) and every path takes them.
 *
 * A rule is pure: a state view, the transaction (its signature checked by the caller
 * against `signer`), the block it goes into; it returns the changes or throws a
 * RejectionError saying why the transaction is invalid. A signer of undefined means no
 * key can sign it (a ledger transaction naming no known key): there is nothing to verify,
 * and apply refuses it with the rule's own code.
 */
import {
  type BlockContext, type MeterRegister, type MeterRevoke, type MeterRotate, type Reading, ReasonCode, RejectionError, type SignedTx, type StateChange, type StateReader, type TxBody, TxType,
  LedgerTxType, applyLedgerTx, type PeriodKeyBody, PERIOD_KEY_TX_TYPE, type SealedReading, type ValidatorSetTxBody, VALSET_TX_TYPE,
} from '../../protocols/index.js';
import { applyValidatorSetChange, valsetSigner } from './valset.js';
import { applyPeriodKey, checkReadingConfidentiality, checkRegistrationRecipients, periodKeySigner } from './confidential.js';
import { checkedBy, ledgerOff, ledgerSigner } from './ledger.js';
import {
  type ChainParams, type Operators, type Signer, applyMeterRegister, applyMeterRevoke, applyMeterRotate, applyReading, operatorSigner, readingSigner,
} from './meter.js';

/** What a signer lookup may know besides the operators: the chain and the height of the block (type 20 needs both). */
export interface SignerAt {
  readonly chain?: ChainParams;
  readonly height?: number;
}

export interface TxRule<B extends TxBody = TxBody> {
  signer(state: StateReader, operators: Operators, tx: SignedTx<B>, at: SignerAt): Signer | undefined;
  apply(state: StateReader, tx: SignedTx<B>, block: BlockContext, chain: ChainParams): StateChange[];
}

/** A rule for one body type, held in the registry as a rule for any (the registry dispatches on the type). */
const rule = <B extends TxBody>(r: TxRule<B>): TxRule => r as unknown as TxRule;
const byOperator = (_state: StateReader, operators: Operators, tx: SignedTx): Signer => operatorSigner(operators, tx);

/**
 * Types 6-19: the pure rules of protocols/billing/ledger.ts, whose signature check is the
 * question "is this the key the pool checked?" (state/ledger.ts says why).
 */
const ledgerRule: TxRule = {
  signer: (state, operators, tx) => ledgerSigner(state, operators, tx),
  apply: (state, tx, block, chain) => {
    if (!chain.ledger) return ledgerOff(tx);
    // The same lookup on the same view as `signer`: the key the caller verified.
    const signer = ledgerSigner(state, chain.ledger.operators, tx);
    return applyLedgerTx({ ...chain.ledger, verify: checkedBy(signer) }, state, tx, block);
  },
};

export const txRules: Readonly<Record<number, TxRule>> = {
  ...Object.fromEntries(Object.values(LedgerTxType).map((t) => [t, ledgerRule])),
  [TxType.Reading]: rule<Reading | SealedReading>({
    signer: (state, _ops, tx) => readingSigner(state, tx),
    apply: (state, tx, _block, chain) => {
      checkReadingConfidentiality(state, tx);
      return applyReading(state, tx, chain);
    },
  }),
  [TxType.MeterRegister]: rule<MeterRegister>({
    signer: byOperator,
    apply: (state, tx) => {
      const changes = applyMeterRegister(state, tx);
      checkRegistrationRecipients(state, tx.body);
      return changes;
    },
  }),
  [PERIOD_KEY_TX_TYPE]: rule<PeriodKeyBody>({ signer: (state, _ops, tx) => periodKeySigner(state, tx), apply: (state, tx) => applyPeriodKey(state, tx) }),
  [TxType.MeterRotate]: rule<MeterRotate>({ signer: byOperator, apply: (state, tx) => applyMeterRotate(state, tx) }),
  [TxType.MeterRevoke]: rule<MeterRevoke>({ signer: byOperator, apply: (state, tx) => applyMeterRevoke(state, tx) }),
  [VALSET_TX_TYPE]: rule<ValidatorSetTxBody>({
    signer: (state, _ops, tx, at) => valsetSigner(state, at.chain, tx, at.height),
    apply: (state, tx, block, chain) => applyValidatorSetChange(state, tx, block, chain),
  }),
};

function ruleOf(tx: SignedTx<TxBody>): TxRule {
  const r = txRules[tx.body.type];
  if (!r) throw new RejectionError(ReasonCode.SCHEMA, `transaction type ${String(tx.body.type)} has no rule on this node`, 'type');
  return r;
}

/**
 * The key that must have signed `tx`, given the state (undefined: none can, see TxRule);
 * throws a RejectionError. `at`: the chain's parameters and the height of the block it
 * goes into (a set change's signer is a member of that height's set).
 */
export function requiredSigner(state: StateReader, operators: Operators, tx: SignedTx<TxBody>, at: SignerAt = {}): Signer | undefined {
  return ruleOf(tx).signer(state, operators, tx, at);
}

/**
 * What `tx` (its signature checked against requiredSigner) changes on `state` in `block`,
 * under the chain's parameters (a TxContext is one); throws a RejectionError.
 */
export function applyTx(state: StateReader, tx: SignedTx<TxBody>, block: BlockContext, chain: ChainParams): StateChange[] {
  return ruleOf(tx).apply(state, tx, block, chain);
}
