/**
 * Confidential meters on the ledger (docs/protocol.md §11): the rules every validator
 * checks without a key (§11.9), pure, through the registry of ./rules.ts like every type.
 *
 * - Registration (type 2 with label 16) makes a meter confidential; its recipient keys
 *   are never one of the holder's signing keys (§11.2).
 * - A period key (type 5) is signed by its meter, which must be confidential, and wrapped
 *   to exactly the meter's registered recipient keys (E_CONF_WRONG_RECIPIENTS); its key id
 *   becomes a record 'periodKey' that sealed readings name.
 * - A reading is sealed if and only if its meter is confidential (E_CONF_MODE_MISMATCH),
 *   and a sealed one names an accepted period key of its meter (E_CONF_UNKNOWN_KEY).
 *
 * Nonce reuse (§11.5) cannot reach a block: the seq rule commits one reading per
 * (meter, seq) and the IV is a function of seq. Intake (../intake.ts) answers a sealed
 * replay that reuses a kid and IV for other bytes with E_CONF_NONCE_REUSED.
 */
import {
  BoundedMap, type MeterRegister, type PeriodKeyBody, ReasonCode, type Reading, type RecipientKey, RejectionError, type SealedReading, type SignedTx,
  type StateChange, StateKind, type StateReader, checkPeriodKeyRecipients, checkReadingMode, equalBytes, toHex,
} from '../../protocols/index.js';
import { type MeterRecord, type Signer, meterOf, readingSigner } from './meter.js';

/** A period key accepted for a meter: what a sealed reading's kid context must name. */
export interface PeriodKeyRecord {
  readonly period: string;
  /** As signed by the meter (informational, ms). */
  readonly time: number;
}

/**
 * The last record id made per meter, with the key id bytes it was made of: a meter seals a
 * period's readings under one key, and each sealed reading is looked up at its intake
 * (twice) and in its proposal, so a 32-byte compare finds the id (its string, and the hash
 * V8 keeps of it) instead of a new hex and string per lookup. One entry per meter, bounded:
 * (a WeakMap keyed by each reading's own key id view made an entry, and GC work, per reading.)
 */
const lastRecordId = new BoundedMap<string, { keyId: Uint8Array; id: string }>(100_000);

/** The id of the record of period key `keyId` of `meterId`. */
export function periodKeyRecordId(meterId: string, keyId: Uint8Array): string {
  const last = lastRecordId.get(meterId);
  if (last !== undefined && equalBytes(last.keyId, keyId)) return last.id;
  const id = `${meterId}\u0000${toHex(keyId)}`;
  // A copy: the key id is a view of a reading's bytes, which the cache must not keep alive.
  lastRecordId.set(meterId, { keyId: keyId.slice(), id });
  return id;
}

export const periodKeyOf = (state: StateReader, meterId: string, keyId: Uint8Array): PeriodKeyRecord | undefined =>
  state.get(StateKind.PeriodKey, periodKeyRecordId(meterId, keyId)) as PeriodKeyRecord | undefined;

export const isConfidential = (m: MeterRecord): boolean => m.recipients !== undefined;

/**
 * §11.2: an encryption key is never a signing key. A P-256 recipient key is compared by its
 * x-coordinate with an ES256 key (compressed or not); an X25519 one byte for byte.
 */
function sameKeyAs(r: RecipientKey, signer: Signer): boolean {
  if (r.publicKey.length === 65 && (signer.publicKey.length === 33 || signer.publicKey.length === 65)) {
    return equalBytes(r.publicKey.subarray(1, 33), signer.publicKey.subarray(1, 33));
  }
  return equalBytes(r.publicKey, signer.publicKey);
}

/**
 * The confidential part of a registration: no recipient key is the meter's own signing
 * key or the owner account's (E_CONF_MALFORMED, field recipients).
 */
export function checkRegistrationRecipients(state: StateReader, b: MeterRegister): void {
  if (b.recipients === undefined) return;
  const owner = b.owner === undefined ? undefined : (state.get(StateKind.Account, b.owner) as Signer | undefined);
  const signers = [{ who: 'the meter', key: { alg: b.alg, publicKey: b.publicKey } }, ...(owner?.publicKey ? [{ who: `account "${b.owner}"`, key: owner }] : [])];
  for (const r of b.recipients) {
    for (const s of signers) {
      if (sameKeyAs(r, s.key)) throw new RejectionError(ReasonCode.CONF_MALFORMED, `recipient key ${r.id} is the signing key of ${s.who}: an encryption key must be a key of its own (§11.2)`, 'recipients');
    }
  }
}

/** Type 5 is signed by its meter's registered key, as a reading. */
export function periodKeySigner(state: StateReader, tx: SignedTx<PeriodKeyBody>): Signer {
  return readingSigner(state, tx);
}

/** Type 5: a confidential meter publishes a period key wrapped to exactly its recipients. */
export function applyPeriodKey(state: StateReader, tx: SignedTx<PeriodKeyBody>): StateChange[] {
  const b = tx.body;
  const m = meterOf(state, b.meterId)!; // periodKeySigner found it live
  if (!isConfidential(m)) throw new RejectionError(ReasonCode.CONF_MODE_MISMATCH, `meter "${b.meterId}" is not confidential: it publishes no period keys`, 'type');
  checkPeriodKeyRecipients(b, m.recipients!);
  // A meter that lost its key mid-period makes another: several keys per period are fine, one id once.
  if (periodKeyOf(state, b.meterId, b.keyId)) throw new RejectionError(ReasonCode.TX_CONFLICT, `period key ${toHex(b.keyId)} of "${b.meterId}" is already on the ledger`, 'keyId');
  const value: PeriodKeyRecord = { period: b.period, time: b.time };
  return [{ kind: StateKind.PeriodKey, id: periodKeyRecordId(b.meterId, b.keyId), value }];
}

/**
 * Before the seq rule of any reading: sealed if and only if the meter is confidential;
 * a sealed reading under an accepted period key of its meter.
 */
export function checkReadingConfidentiality(state: StateReader, tx: SignedTx<Reading | SealedReading>): void {
  const b = tx.body;
  const m = meterOf(state, b.meterId)!; // readingSigner found it live
  const sealed = 'sealed' in b;
  checkReadingMode(isConfidential(m), sealed);
  if (sealed && !periodKeyOf(state, b.meterId, b.sealed.keyId)) {
    throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `${b.meterId} seq ${b.seq} is sealed under period key ${toHex(b.sealed.keyId)}, which is not on the ledger: publish it first`, 'kidContext');
  }
}
