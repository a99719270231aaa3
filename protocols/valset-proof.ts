/**
 * Receipts across validator-set changes (docs/protocol.md §13.5): a checker holding only
 * the genesis file follows the chain of set changes from genesis to a receipt's height.
 * The chain is the receipts of the type 20 transactions, changes 1..n in order (one
 * CBOR array of receipts, §7 each); every one is checked with the set in force at its own
 * height, which the changes before it give, and the receipt last, with the set of its
 * height.
 */
import { decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { commitProblem } from './block.js';
import { type CoseSign1, decodeCoseSign1, sigStructure } from './cose.js';
import { ProtocolError, ReasonCode, RejectionError } from './errors.js';
import { type Genesis, type GenesisValidator } from './genesis.js';
import { Alg, verifySignature } from './keys.js';
import { verifyInclusion } from './merkle.js';
import { decodePayloadMap } from './payload.js';
import { type Receipt, type VerifiedReceipt, receiptFromCbor, receiptToCbor, verifyReceipt } from './receipt.js';
import { fromHex } from './bytes.js';
import {
  type ValidatorSetTxBody, ValidatorSchedule, ValidatorSetOp, VALSET_TX_TYPE, applySetChange, approvalProblem, decodeValidatorSetTxBody,
} from './validator-set.js';

const fail = (msg: string): never => {
  throw new ProtocolError('E_RECEIPT_INVALID', msg);
};

/** The chain of set changes as served and stored: CBOR [receipt, ...] (§13.5). */
export function encodeSetChanges(changes: readonly Receipt[]): Uint8Array {
  return encodeCbor(changes.map(receiptToCbor));
}

export function decodeSetChanges(bytes: Uint8Array): Receipt[] {
  let v: unknown;
  try {
    v = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new ProtocolError('E_RECEIPT_MALFORMED', 'the set changes are not deterministic CBOR', { cause });
  }
  if (!Array.isArray(v)) throw new ProtocolError('E_RECEIPT_MALFORMED', 'the set changes must be an array of receipts');
  return v.map(receiptFromCbor);
}

/** A type 20 transaction's body and its COSE signer's check, or the reason it is not one. */
export function decodeSetChangeTx(tx: Uint8Array): { body: ValidatorSetTxBody; kid: string; cose: CoseSign1 } {
  const cose = decodeCoseSign1(tx);
  const m = decodePayloadMap(cose.payload);
  if (m.get(0) !== VALSET_TX_TYPE) throw new RejectionError(ReasonCode.SCHEMA, `type ${String(m.get(0))} is not a validator-set change (${VALSET_TX_TYPE})`, 'type');
  if (cose.kid === undefined) throw new RejectionError(ReasonCode.MALFORMED, 'a set change names its submitting validator in kid', 'kid');
  return { body: decodeValidatorSetTxBody(m), kid: cose.kid, cose };
}

/**
 * The validator schedule that `changes` prove, from genesis (§13.5): each change's receipt
 * is good for the set of its height, its transaction is the next change, approved by more
 * than 2/3 of that set and signed (COSE) by one of its approvers (a rotation: by the
 * rotated validator, old key). Throws E_RECEIPT_INVALID naming the change that fails.
 */
export function followSetChanges(genesis: Genesis, changes: readonly Receipt[]): ValidatorSchedule {
  const schedule = new ValidatorSchedule(genesis.validators);
  let last = 0;
  changes.forEach((r, i) => {
    const seq = i + 1;
    const at = `set change ${seq} (height ${r.header.height})`;
    if (r.chainId !== genesis.chainId || r.header.chainId !== genesis.chainId) fail(`${at}: for chain "${r.chainId}", genesis is "${genesis.chainId}"`);
    if (r.header.height < last) fail(`${at}: below the height of the change before it`);
    last = r.header.height;
    const set = schedule.at(r.header.height);
    if (!verifyInclusion(r.tx, r.index, r.header.txCount, r.proof, r.header.txRoot)) fail(`${at}: inclusion proof does not lead to the header's txRoot`);
    let tx: ReturnType<typeof decodeSetChangeTx>;
    try {
      tx = decodeSetChangeTx(r.tx);
    } catch (e) {
      return fail(`${at}: ${(e as Error).message}`);
    }
    const { body } = tx;
    if (body.seq !== seq) fail(`${at}: the transaction is change ${body.seq}`);
    const problem = commitProblem({ chainId: genesis.chainId, validators: set }, r.header, r.commit);
    if (problem) fail(`${at}: commit certificate: ${problem}`);
    const submitter = set.find((v) => v.id === tx.kid);
    if (!submitter || !body.approvals.some((a) => a.validator === tx.kid)) fail(`${at}: submitted by "${tx.kid}", not one of its approvers`);
    if (body.op === ValidatorSetOp.RotateKey && tx.kid !== body.validator) fail(`${at}: a key rotation is submitted by the rotated validator`);
    const { cose } = tx;
    if (cose.alg !== Alg.EdDSA || !verifySignature(Alg.EdDSA, fromHex(submitter!.publicKey), sigStructure(cose.protectedBytes, cose.payload, genesis.chainId), cose.signature)) {
      fail(`${at}: bad COSE signature of "${tx.kid}"`);
    }
    const unapproved = approvalProblem(genesis.chainId, set, body);
    if (unapproved) fail(`${at}: ${unapproved}`);
    let next: GenesisValidator[];
    try {
      next = applySetChange(schedule.latest, body);
    } catch (e) {
      return fail(`${at}: ${(e as Error).message}`);
    }
    schedule.push(r.header.height, next);
  });
  return schedule;
}

/**
 * verifyReceipt (./receipt.ts) for a chain whose set changed: `changes` (every set change
 * committed below the receipt's block, in order; §13.5) are followed from genesis, and the
 * receipt is checked against the set in force at its height.
 */
export function verifyReceiptWithSetChanges(genesis: Genesis, receipt: Receipt, changes: readonly Receipt[]): VerifiedReceipt & { readonly validators: readonly GenesisValidator[] } {
  const schedule = followSetChanges(genesis, changes);
  const validators = schedule.at(receipt.header.height);
  return { ...verifyReceipt({ ...genesis, validators }, receipt), validators };
}
