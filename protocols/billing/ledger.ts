/**
 * The ledger's rules for accounts, money and billing (docs/billing.md §13-20): one pure
 * function per transaction type 6-19, `(view, tx, ctx) -> StateChange[]` as ../state.ts
 * says, or a RejectionError with the code of the first rule broken, in the order the
 * spec lists them. The same functions run in block production and validation on every
 * validator, in `meterledger verify` and, replaying receipts, in the owner's browser.
 *
 * Amounts are integers of minor units: bigint when written; a record read back from a
 * store may hold a number where the value is below 2^53 (CBOR does not keep the JS type),
 * so every amount is read through `big()`.
 */
import { decodeCbor } from '../cbor.js';
import { sigStructure } from '../cose.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { type Genesis, type OperatorRole, chainCycle, decodeKey, operatorRoles } from '../genesis.js';
import { type Alg, verifySignature } from '../keys.js';
import { type BlockContext, type StateChange, StateKind, type StateReader } from '../state.js';
import type { SignedTx, TxBody } from '../tx.js';
import { explainBill } from './engine.js';
import { type SealedEntry, type SealedReadingIndex, checkDisclosedSet, openBillDisclosures } from './disclosure.js';
import { assertSameBill } from './compare.js';
import type { BillReading } from './interpolate.js';
import { civilFromDays, MS_PER_DAY } from './localtime.js';
import { type BillPeriod, type CycleRule, resolvePeriod } from './period.js';
import { type Currency, type Tariff, decodeTariff } from './tariff.js';
import { type Agreement, termsTimeline } from './terms.js';
import {
  type AccountOpen, type AccountRotate, type AgreementSet, type BillIssue, type CreditNote, type Deposit, type Dispute,
  type DisputeReject, type LedgerTxBody, LedgerTxType, MAX_AMOUNT, type MandateRevoke, type MandateSet, type MeterAssign,
  type Payment, type TariffPublish, type Withdrawal, isLedgerTxBody,
} from './txs.js';

export const MAX_TARIFF_VERSIONS = 256;
export const MAX_AGREEMENTS = 256;

// ------------------------------------------------------------------------- records (§13.4)

/** account/<account id> */
export interface AccountRecord {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly keyEpoch: number;
  readonly balance: bigint;
}
/** What the rules read of meter/<meter id> (the node's record has more; rules keep it). */
export interface MeterView {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly revoked?: boolean;
  readonly owner?: string;
  /** Time of the last MeterAssign (§13.6), the replay guard. */
  readonly ownerSince?: number;
  /** A confidential meter's recipient keys (docs/protocol.md §11.2): present iff it is confidential. */
  readonly recipients?: readonly unknown[];
}
/** transfer/<custodian id>/<reference> */
export interface TransferRecord {
  readonly kind: 'deposit' | 'withdrawal';
  readonly account: string;
  readonly amount: bigint;
  readonly height: number;
}
/** tariff/<tariff name>: its biller and versions by effectiveFrom ascending. */
export interface TariffRecord {
  readonly biller: string;
  readonly versions: readonly { readonly id: string; readonly effectiveFrom: number }[];
}
/** tariffVersion/<content id>: the canonical CBOR (§3.3). */
export interface TariffVersionRecord {
  readonly tariff: string;
  readonly bytes: Uint8Array;
}
/** agreement/<meter id>: the meter's agreements by `from` ascending, and how far it is billed. */
export interface AgreementRecord {
  readonly entries: readonly { readonly from: number; readonly tariff: string | null; readonly biller: string }[];
  /** End of the latest period billed (0: none). */
  readonly billedUntil: number;
}
/** bill/<meter id>/<period label> */
export interface BillRecord {
  readonly biller: string;
  readonly payee: string;
  /** The meter's owner when the bill was issued: the account that pays it. */
  readonly account: string;
  readonly start: number;
  readonly end: number;
  readonly total: bigint;
  /** Sum of credit notes so far. */
  readonly credited: bigint;
  readonly height: number;
  /** Set when an autopay payment was attempted at issue and refused: its code. */
  readonly autopayRefused?: string;
}
/** payment/<meter id>/<period label> */
export interface PaymentRecord {
  readonly account: string;
  readonly payee: string;
  readonly amount: bigint;
  readonly by: 'meter' | 'owner' | 'autopay';
  readonly height: number;
}
/** mandate/<account id>/<payee account id> */
export interface MandateRecord {
  readonly meters: readonly string[];
  readonly capPerBill: bigint;
  readonly capPerMonth: bigint;
  readonly expires: number;
  readonly autopay: boolean;
  /** Time of the mandate (or revocation) transaction that set it: the replay guard. */
  readonly time: number;
  readonly revoked: boolean;
  /** UTC month "YYYY-MM" of `spent`. */
  readonly month: string;
  readonly spent: bigint;
}
/** dispute/<meter id>/<period label> */
export interface DisputeRecord {
  readonly account: string;
  readonly reason: string;
  readonly readings: readonly bigint[];
  readonly status: 'open' | 'rejected' | 'credited';
  readonly time: number;
  readonly note?: string;
}

export const billId = (meterId: string, period: string): string => `${meterId}/${period}`;
export const mandateId = (account: string, payee: string): string => `${account}/${payee}`;
export const transferId = (custodian: string, reference: string): string => `${custodian}/${reference}`;

/** An amount read back from state: bigint, or a number below 2^53. */
export const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));

// ------------------------------------------------------------------ the readings a bill needs

/**
 * The committed readings of one meter, as the node's reading index holds them (meter,
 * time) -> (seq, registers, height committed at): what the bill rule needs without
 * decoding blocks. Every method counts only readings committed at heights <= atHeight.
 */
export interface ReadingIndex {
  /** The meter's readings with from <= time <= to, in any order. */
  between(meterId: string, from: number, to: number, atHeight: number): readonly BillReading[];
  /** The latest reading with time <= t (with `withExport`, among those carrying exportWh). */
  latestAtOrBefore(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined;
  /** The earliest reading with time >= t (with `withExport`, among those carrying exportWh). */
  earliestAtOrAfter(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined;
}

/**
 * The readings the engine needs for [S, E) (§6.1 "which readings a caller must pass"):
 * those with time in [min(aI, aX), max(bI, bX)]. Without any reading at or after E the
 * range ends at E and the engine says E_BILL_NOT_READY.
 */
export function readingsForBill(index: ReadingIndex, meterId: string, p: BillPeriod, atHeight: number): readonly BillReading[] {
  const aI = index.latestAtOrBefore(meterId, p.start, atHeight, false)?.time ?? 0;
  const bI = index.earliestAtOrAfter(meterId, p.end, atHeight, false)?.time ?? p.end;
  let from = aI;
  let to = bI;
  if (index.latestAtOrBefore(meterId, Number.MAX_SAFE_INTEGER, atHeight, true)) {
    from = Math.min(from, index.latestAtOrBefore(meterId, p.start, atHeight, true)?.time ?? 0);
    to = Math.max(to, index.earliestAtOrAfter(meterId, p.end, atHeight, true)?.time ?? Number.MAX_SAFE_INTEGER);
  }
  return index.between(meterId, from, to, atHeight);
}

// --------------------------------------------------------------------------- the chain

export interface LedgerOperator {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly roles: readonly OperatorRole[];
}

/** What the rules know of the chain: all from genesis, plus the reading index and a verifier. */
export interface LedgerChain {
  readonly chainId: string;
  readonly currency?: Currency;
  readonly cycle?: CycleRule;
  readonly operators: ReadonlyMap<string, LedgerOperator>;
  readonly readings: ReadingIndex;
  /** The committed sealed readings, for bills of confidential meters (§17.2); without it such bills are refused. */
  readonly sealed?: SealedReadingIndex;
  /** Signature check; default verifySignature (pure). A node may pass its native one: both accept the same set. */
  readonly verify?: (alg: Alg, publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;
}

export function ledgerChain(genesis: Genesis, readings: ReadingIndex, verify?: LedgerChain['verify'], sealed?: SealedReadingIndex): LedgerChain {
  const operators = new Map(genesis.operators.map((o) => {
    const k = decodeKey(o);
    return [o.id, { alg: k.alg, publicKey: k.publicKey, roles: operatorRoles(o) }] as const;
  }));
  const cycle = chainCycle(genesis);
  return {
    chainId: genesis.chainId, operators, readings, ...(genesis.currency ? { currency: genesis.currency } : {}),
    ...(cycle ? { cycle } : {}), ...(verify ? { verify } : {}), ...(sealed ? { sealed } : {}),
  };
}

export type LedgerRule = (view: StateReader, tx: SignedTx<TxBody>, ctx: BlockContext) => StateChange[];

const reject = (code: ReasonCode, msg: string, field?: string): never => {
  throw new RejectionError(code, msg, field);
};

// ------------------------------------------------------------------------- signers (§13.3)

function checkSignature(chain: LedgerChain, tx: SignedTx<TxBody>, key: { alg: Alg; publicKey: Uint8Array }, who: string): void {
  if (tx.cose.alg !== key.alg) reject(ReasonCode.BAD_ALG, `${who} has a ${key.alg === -8 ? 'Ed25519' : 'ES256'} key`, 'alg');
  const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, chain.chainId);
  if (!(chain.verify ?? verifySignature)(key.alg, key.publicKey, msg, tx.cose.signature)) reject(ReasonCode.BAD_SIGNATURE, `the signature does not verify with the key of ${who}`, 'signature');
}

/** The operator named by kid, holding `role`, whose key signed tx; returns its id. */
function operatorSigner(chain: LedgerChain, tx: SignedTx<TxBody>, role: OperatorRole): string {
  const id = tx.cose.kid;
  const op = id === undefined ? undefined : chain.operators.get(id);
  if (!op || id === undefined) return reject(ReasonCode.NOT_OPERATOR, `kid "${id ?? ''}" is not an operator in genesis`, 'kid');
  if (!op.roles.includes(role)) reject(ReasonCode.TX_ROLE, `operator "${id}" is not a ${role} (roles: ${op.roles.join(', ')})`, 'kid');
  checkSignature(chain, tx, op, `operator "${id}"`);
  return id;
}

/** The owner of `account` signed tx (kid = the account id); returns the account. */
function ownerSigner(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, account: string): AccountRecord {
  if (tx.cose.kid !== account) reject(ReasonCode.TX_NOT_OWNER, `kid "${tx.cose.kid ?? ''}" is not the account "${account}" it acts for`, 'kid');
  const a = getAccount(view, account, 'account');
  checkSignature(chain, tx, a, `account "${account}"`);
  return a;
}

// --------------------------------------------------------------------------- state access

function getAccount(view: StateReader, id: string, field: string): AccountRecord {
  const a = view.get(StateKind.Account, id) as AccountRecord | undefined;
  if (!a) return reject(ReasonCode.ACCOUNT_UNKNOWN, `no account "${id}" is open`, field);
  return { ...a, balance: big(a.balance) };
}
function getMeter(view: StateReader, id: string): MeterView {
  const m = view.get(StateKind.Meter, id) as MeterView | undefined;
  if (!m) return reject(ReasonCode.UNKNOWN_METER, `meter "${id}" is not registered`, 'meterId');
  if (m.revoked) reject(ReasonCode.METER_REVOKED, `meter "${id}" is revoked`, 'meterId');
  return m;
}
function getBill(view: StateReader, meterId: string, period: string): BillRecord {
  const b = view.get(StateKind.Bill, billId(meterId, period)) as BillRecord | undefined;
  if (!b) return reject(ReasonCode.BILL_UNKNOWN, `meter "${meterId}" has no bill for ${period}`, 'period');
  return { ...b, total: big(b.total), credited: big(b.credited) };
}
const accountChange = (id: string, a: AccountRecord): StateChange => ({ kind: StateKind.Account, id, value: a });

/** Credit an account, refusing a balance above 2^63-1. */
function credited(a: AccountRecord, amount: bigint, id: string): AccountRecord {
  if (a.balance + amount > MAX_AMOUNT) reject(ReasonCode.ACCOUNT_BALANCE_LIMIT, `account "${id}" would hold more than 2^63-1 minor units`, 'amount');
  return { ...a, balance: a.balance + amount };
}

/** Move `amount` from one account to another: both changes, in one list. */
function move(view: StateReader, from: string, to: string, amount: bigint, insufficient: ReasonCode): StateChange[] {
  const a = getAccount(view, from, 'account');
  if (a.balance < amount) reject(insufficient, `account "${from}" holds ${a.balance}, ${amount} needed`, 'amount');
  if (from === to) return [accountChange(from, a)];
  const b = getAccount(view, to, 'payee');
  return [accountChange(from, { ...a, balance: a.balance - amount }), accountChange(to, credited(b, amount, to))];
}

/** "YYYY-MM" of an instant in UTC: the calendar month of mandate caps (§18). */
export function utcMonth(t: number): string {
  const d = civilFromDays(Math.floor(t / MS_PER_DAY));
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------ the rules

function accountOpen(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: AccountOpen): StateChange[] {
  operatorSigner(chain, tx, 'registrar');
  if (view.get(StateKind.Account, b.account) !== undefined) reject(ReasonCode.ACCOUNT_EXISTS, `account "${b.account}" is already open`, 'account');
  return [accountChange(b.account, { alg: b.alg, publicKey: b.publicKey, keyEpoch: 0, balance: 0n })];
}

function accountRotate(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: AccountRotate): StateChange[] {
  operatorSigner(chain, tx, 'registrar');
  const a = getAccount(view, b.account, 'account');
  if (b.keyEpoch !== a.keyEpoch + 1) reject(ReasonCode.ACCOUNT_KEY_EPOCH, `keyEpoch must be ${a.keyEpoch + 1}, got ${b.keyEpoch}`, 'keyEpoch');
  return [accountChange(b.account, { ...a, alg: b.alg, publicKey: b.publicKey, keyEpoch: b.keyEpoch })];
}

function meterAssign(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: MeterAssign): StateChange[] {
  operatorSigner(chain, tx, 'registrar');
  const m = getMeter(view, b.meterId);
  getAccount(view, b.account, 'account');
  if (m.ownerSince !== undefined && b.time <= m.ownerSince) reject(ReasonCode.TX_STALE, `time ${b.time} is not after the meter's last assignment at ${m.ownerSince}`, 'time');
  if (m.owner === b.account) reject(ReasonCode.TX_CONFLICT, `meter "${b.meterId}" belongs to "${b.account}" already`, 'account');
  return [{ kind: StateKind.Meter, id: b.meterId, value: { ...m, owner: b.account, ownerSince: b.time } }];
}

function transfer(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: Deposit | Withdrawal, ctx: BlockContext): StateChange[] {
  const custodian = operatorSigner(chain, tx, 'custodian');
  const a = getAccount(view, b.account, 'account');
  const id = transferId(custodian, b.reference);
  if (view.get(StateKind.Transfer, id) !== undefined) reject(ReasonCode.TRANSFER_DUPLICATE, `custodian "${custodian}" applied reference "${b.reference}" already`, 'reference');
  const deposit = b.type === LedgerTxType.Deposit;
  if (!deposit && a.balance < b.amount) reject(ReasonCode.ACCOUNT_INSUFFICIENT_FUNDS, `account "${b.account}" holds ${a.balance}, ${b.amount} asked`, 'amount');
  const next = deposit ? credited(a, b.amount, b.account) : { ...a, balance: a.balance - b.amount };
  const record: TransferRecord = { kind: deposit ? 'deposit' : 'withdrawal', account: b.account, amount: b.amount, height: ctx.height };
  return [accountChange(b.account, next), { kind: StateKind.Transfer, id, value: record }];
}

function tariffPublish(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: TariffPublish, ctx: BlockContext): StateChange[] {
  const biller = operatorSigner(chain, tx, 'biller');
  const t = b.tariff;
  const cur = chain.currency!;
  if (t.currency.code !== cur.code || t.currency.minorUnits !== cur.minorUnits) {
    reject(ReasonCode.TARIFF_CURRENCY, `tariff is in ${t.currency.code}/${t.currency.minorUnits}, the chain in ${cur.code}/${cur.minorUnits}`, 'currency');
  }
  const rec = view.get(StateKind.Tariff, t.tariff) as TariffRecord | undefined;
  if (rec && rec.biller !== biller) reject(ReasonCode.TARIFF_NOT_OWNER, `tariff "${t.tariff}" belongs to biller "${rec.biller}"`, 'tariff');
  if (view.get(StateKind.TariffVersion, t.id) !== undefined) reject(ReasonCode.TARIFF_DUPLICATE, `tariff version ${t.id} is published already`, 'tariff');
  const versions = rec?.versions ?? [];
  if (versions.some((v) => v.effectiveFrom === t.effectiveFrom)) reject(ReasonCode.TARIFF_CONFLICT, `tariff "${t.tariff}" has a version in force from ${t.effectiveFrom} already`, 'effectiveFrom');
  if (t.effectiveFrom < ctx.time) reject(ReasonCode.TARIFF_RETROACTIVE, `effectiveFrom ${t.effectiveFrom} is before the block's time ${ctx.time}`, 'effectiveFrom');
  if (versions.length >= MAX_TARIFF_VERSIONS) reject(ReasonCode.TARIFF_LIMIT, `tariff "${t.tariff}" has ${MAX_TARIFF_VERSIONS} versions`, 'tariff');
  const next: TariffRecord = { biller, versions: [...versions, { id: t.id, effectiveFrom: t.effectiveFrom }].sort((x, y) => x.effectiveFrom - y.effectiveFrom) };
  const version: TariffVersionRecord = { tariff: t.tariff, bytes: t.bytes };
  return [{ kind: StateKind.Tariff, id: t.tariff, value: next }, { kind: StateKind.TariffVersion, id: t.id, value: version }];
}

function agreementSet(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: AgreementSet): StateChange[] {
  const biller = operatorSigner(chain, tx, 'biller');
  getMeter(view, b.meterId);
  if (b.tariff !== null) {
    const t = view.get(StateKind.Tariff, b.tariff) as TariffRecord | undefined;
    if (!t) reject(ReasonCode.TARIFF_UNKNOWN, `no tariff "${b.tariff}" is published`, 'tariffName');
    else if (t.biller !== biller) reject(ReasonCode.TARIFF_NOT_OWNER, `tariff "${b.tariff}" belongs to biller "${t.biller}"`, 'tariffName');
  }
  const rec = (view.get(StateKind.Agreement, b.meterId) as AgreementRecord | undefined) ?? { entries: [], billedUntil: 0 };
  if (b.from < rec.billedUntil) reject(ReasonCode.AGREEMENT_BILLED, `meter "${b.meterId}" is billed until ${rec.billedUntil}; an agreement from ${b.from} would change a bill`, 'from');
  const same = rec.entries.find((e) => e.from === b.from);
  if (same && same.biller !== biller) reject(ReasonCode.AGREEMENT_NOT_BILLER, `the agreement from ${b.from} was set by biller "${same.biller}"`, 'from');
  if (b.tariff === null) {
    const inForce = [...rec.entries].reverse().find((e) => e.from <= b.from);
    if (!inForce || inForce.biller !== biller) reject(ReasonCode.AGREEMENT_NOT_BILLER, `only the biller of the agreement in force at ${b.from} may end it`, 'tariffName');
  }
  const entries = [...rec.entries.filter((e) => e.from !== b.from), { from: b.from, tariff: b.tariff, biller }].sort((x, y) => x.from - y.from);
  if (entries.length > MAX_AGREEMENTS) reject(ReasonCode.AGREEMENT_LIMIT, `meter "${b.meterId}" has ${MAX_AGREEMENTS} agreements`, 'from');
  return [{ kind: StateKind.Agreement, id: b.meterId, value: { entries, billedUntil: rec.billedUntil } satisfies AgreementRecord }];
}

// Tariff versions are content-addressed: a decoded one never changes, so it is kept.
const tariffCache = new Map<string, Tariff>();
function tariffVersion(view: StateReader, id: string): Tariff {
  let t = tariffCache.get(id);
  if (!t) {
    const rec = view.get(StateKind.TariffVersion, id) as TariffVersionRecord | undefined;
    if (!rec) return reject(ReasonCode.TARIFF_UNKNOWN, `tariff version ${id} is not in state`, 'tariffs');
    t = decodeTariff(rec.bytes);
    if (tariffCache.size >= 1024) tariffCache.clear();
    tariffCache.set(id, t);
  }
  return t;
}

function billIssue(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: BillIssue, ctx: BlockContext): StateChange[] {
  const biller = operatorSigner(chain, tx, 'biller');
  const submitted = b.bill;
  const meterId = submitted.meterId;
  const meter = getMeter(view, meterId);
  const confidential = meter.recipients !== undefined;
  if (confidential && (b.disclosures === undefined || !chain.sealed)) reject(ReasonCode.BILL_CONFIDENTIAL, `meter "${meterId}" is confidential: its bill must disclose the readings it needs`, 'disclosures');
  if (!confidential && b.disclosures !== undefined) reject(ReasonCode.BILL_DISCLOSURES, `meter "${meterId}" is not confidential: its bill discloses nothing`, 'disclosures');
  const account = meter.owner;
  if (account === undefined || view.get(StateKind.Account, account) === undefined) reject(ReasonCode.BILL_NO_ACCOUNT, `meter "${meterId}"'s owner is not an open account`, 'meterId');
  getAccount(view, b.payee, 'payee');
  const id = billId(meterId, submitted.period.label);
  if (view.get(StateKind.Bill, id) !== undefined) reject(ReasonCode.BILL_EXISTS, `meter "${meterId}" has a bill for ${submitted.period.label} already`, 'period');
  if (b.height >= ctx.height) reject(ReasonCode.BILL_HEIGHT, `height ${b.height} is not below the block's ${ctx.height}`, 'height');

  const rec = (view.get(StateKind.Agreement, meterId) as AgreementRecord | undefined) ?? { entries: [], billedUntil: 0 };
  const agreements: Agreement[] = rec.entries.map((e) => ({ from: e.from, tariff: e.tariff }));
  const tariffs: Tariff[] = [];
  for (const name of new Set(rec.entries.flatMap((e) => (e.tariff === null ? [] : [e.tariff])))) {
    const t = view.get(StateKind.Tariff, name) as TariffRecord | undefined;
    for (const v of t?.versions ?? []) tariffs.push(tariffVersion(view, v.id));
  }
  const period = resolvePeriod(submitted.period.label, termsTimeline(agreements, tariffs), chain.cycle);
  if (period.end > ctx.time) reject(ReasonCode.BILL_PERIOD_OPEN, `${period.label} ends at ${period.end}, after the block's time ${ctx.time}`, 'period');
  if (period.start < rec.billedUntil) reject(ReasonCode.BILL_OVERLAP, `${period.label} starts at ${period.start}, before the end of the last billed period ${rec.billedUntil}`, 'period');
  // §17.2: a confidential meter's readings are the disclosed ones, opened with their keys.
  let sealedRange: readonly SealedEntry[] = [];
  let readings: readonly BillReading[];
  if (confidential) {
    const s = chain.sealed!;
    const from = s.latestAtOrBefore(meterId, period.start, b.height)?.time ?? 0;
    const to = s.earliestAtOrAfter(meterId, period.end, b.height)?.time ?? period.end;
    sealedRange = s.entries(meterId, from, to, b.height);
    readings = openBillDisclosures(chain.chainId, meterId, b.disclosures!, (seq) => s.reading(meterId, seq, b.height));
  } else {
    readings = readingsForBill(chain.readings, meterId, period, b.height);
  }
  const explained = explainBill({
    meterId, period: period.label, currency: chain.currency!, agreements, tariffs, readings, ...(chain.cycle ? { cycle: chain.cycle } : {}),
  });
  const recomputed = explained.bill;
  assertSameBill(submitted, recomputed);
  if (confidential) checkDisclosedSet(recomputed, b.disclosures!, sealedRange, [period.start, period.end, ...explained.pieces.flatMap((p) => [p.from, p.to])]);
  for (const v of recomputed.versions) {
    const t = view.get(StateKind.Tariff, v.tariff) as TariffRecord;
    if (t.biller !== biller) reject(ReasonCode.BILL_NOT_BILLER, `tariff "${v.tariff}" of this bill belongs to biller "${t.biller}"`, 'kid');
  }

  const total = BigInt(recomputed.total);
  let record: BillRecord = { biller, payee: b.payee, account: account!, start: period.start, end: period.end, total, credited: 0n, height: ctx.height };
  const changes: StateChange[] = [
    { kind: StateKind.Agreement, id: meterId, value: { entries: rec.entries, billedUntil: Math.max(rec.billedUntil, period.end) } satisfies AgreementRecord },
  ];
  // §19.4 autopay: the bill pays itself under the mandate, or records why it could not.
  const mandate = view.get(StateKind.Mandate, mandateId(account!, b.payee)) as MandateRecord | undefined;
  if (total > 0n && mandate && !mandate.revoked && mandate.autopay) {
    try {
      changes.push(...mandatePayment(view, meterId, record, total, ctx));
      changes.push({ kind: StateKind.Payment, id, value: { account: account!, payee: b.payee, amount: total, by: 'autopay', height: ctx.height } satisfies PaymentRecord });
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      record = { ...record, autopayRefused: e.code };
    }
  }
  changes.unshift({ kind: StateKind.Bill, id, value: record });
  return changes;
}

/**
 * A payment under the mandate of the bill's account for its payee (§19.3): by the meter
 * or by autopay. Returns the changes of the mandate and both accounts.
 */
function mandatePayment(view: StateReader, meterId: string, bill: BillRecord, amount: bigint, ctx: BlockContext): StateChange[] {
  const mid = mandateId(bill.account, bill.payee);
  const m = view.get(StateKind.Mandate, mid) as MandateRecord | undefined;
  if (!m || m.revoked) return reject(ReasonCode.PAYMENT_NO_MANDATE, `account "${bill.account}" has no mandate for payee "${bill.payee}"`, 'mandate');
  if (ctx.time >= m.expires) reject(ReasonCode.PAYMENT_MANDATE_EXPIRED, `the mandate expired at ${m.expires}`, 'expires');
  const meter = view.get(StateKind.Meter, meterId) as MeterView | undefined;
  if (!m.meters.includes(meterId) || meter?.owner !== bill.account) reject(ReasonCode.PAYMENT_METER_NOT_ALLOWED, `the mandate does not let meter "${meterId}" pay for account "${bill.account}"`, 'meterId');
  if (amount > big(m.capPerBill)) reject(ReasonCode.PAYMENT_CAP_EXCEEDED, `${amount} is above the cap per bill ${big(m.capPerBill)}`, 'capPerBill');
  const month = utcMonth(ctx.time);
  const spent = m.month === month ? big(m.spent) : 0n;
  if (spent + amount > big(m.capPerMonth)) reject(ReasonCode.PAYMENT_CAP_EXCEEDED, `${amount} with ${spent} paid in ${month} is above the cap per month ${big(m.capPerMonth)}`, 'capPerMonth');
  const moved = move(view, bill.account, bill.payee, amount, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS);
  return [{ kind: StateKind.Mandate, id: mid, value: { ...m, month, spent: spent + amount } satisfies MandateRecord }, ...moved];
}

function mandateSet(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: MandateSet, ctx: BlockContext): StateChange[] {
  ownerSigner(chain, view, tx, b.account);
  getAccount(view, b.payee, 'payee');
  const id = mandateId(b.account, b.payee);
  const old = view.get(StateKind.Mandate, id) as MandateRecord | undefined;
  if (old && b.time <= old.time) reject(ReasonCode.TX_STALE, `time ${b.time} is not after the mandate's last change at ${old.time}`, 'time');
  b.meters.forEach((mid, i) => {
    const m = view.get(StateKind.Meter, mid) as MeterView | undefined;
    if (!m) reject(ReasonCode.UNKNOWN_METER, `meter "${mid}" is not registered`, `meters[${i}]`);
    else if (m.owner !== b.account) reject(ReasonCode.MANDATE_METER_NOT_OWNED, `meter "${mid}" does not belong to account "${b.account}"`, `meters[${i}]`);
  });
  if (b.expires <= ctx.time) reject(ReasonCode.MANDATE_EXPIRED, `expires ${b.expires} is not after the block's time ${ctx.time}`, 'expires');
  // What was paid this month under the mandate it replaces still counts against the cap.
  const month = utcMonth(ctx.time);
  const spent = old && old.month === month ? big(old.spent) : 0n;
  const value: MandateRecord = {
    meters: b.meters, capPerBill: b.capPerBill, capPerMonth: b.capPerMonth, expires: b.expires, autopay: b.autopay, time: b.time,
    revoked: false, month, spent,
  };
  return [{ kind: StateKind.Mandate, id, value }];
}

function mandateRevoke(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: MandateRevoke): StateChange[] {
  ownerSigner(chain, view, tx, b.account);
  const id = mandateId(b.account, b.payee);
  const m = view.get(StateKind.Mandate, id) as MandateRecord | undefined;
  if (!m || m.revoked) return reject(ReasonCode.MANDATE_UNKNOWN, `account "${b.account}" has no mandate for payee "${b.payee}"`, 'payee');
  if (b.time <= m.time) reject(ReasonCode.TX_STALE, `time ${b.time} is not after the mandate's last change at ${m.time}`, 'time');
  // Kept, revoked, with its time: a replay of the mandate it revokes is then stale.
  return [{ kind: StateKind.Mandate, id, value: { ...m, revoked: true, autopay: false, time: b.time } satisfies MandateRecord }];
}

function payment(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: Payment, ctx: BlockContext): StateChange[] {
  const byMeter = tx.cose.kid === undefined;
  if (byMeter) checkSignature(chain, tx, getMeter(view, b.meterId), `meter "${b.meterId}"`);
  const bill = getBill(view, b.meterId, b.period);
  if (!byMeter) ownerSigner(chain, view, tx, bill.account);
  const id = billId(b.meterId, b.period);
  if (view.get(StateKind.Payment, id) !== undefined) reject(ReasonCode.BILL_ALREADY_PAID, `the bill of "${b.meterId}" for ${b.period} is paid`, 'period');
  if (bill.total <= 0n) reject(ReasonCode.BILL_NOTHING_DUE, `the bill's total is ${bill.total}: nothing is due`, 'period');
  if (b.amount !== bill.total) reject(ReasonCode.PAYMENT_AMOUNT, `amount ${b.amount} is not the amount due ${bill.total}`, 'amount');
  const changes = byMeter
    ? mandatePayment(view, b.meterId, bill, b.amount, ctx)
    : move(view, bill.account, bill.payee, b.amount, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS);
  const record: PaymentRecord = { account: bill.account, payee: bill.payee, amount: b.amount, by: byMeter ? 'meter' : 'owner', height: ctx.height };
  return [...changes, { kind: StateKind.Payment, id, value: record }];
}

function dispute(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: Dispute): StateChange[] {
  const bill = getBill(view, b.meterId, b.period);
  ownerSigner(chain, view, tx, bill.account);
  const id = billId(b.meterId, b.period);
  const old = view.get(StateKind.Dispute, id) as DisputeRecord | undefined;
  if (old?.status === 'open') reject(ReasonCode.DISPUTE_EXISTS, `the bill of "${b.meterId}" for ${b.period} is disputed already`, 'period');
  if (old && b.time <= old.time) reject(ReasonCode.TX_STALE, `time ${b.time} is not after the last dispute's ${old.time}`, 'time');
  const value: DisputeRecord = { account: bill.account, reason: b.reason, readings: b.readings, status: 'open', time: b.time };
  return [{ kind: StateKind.Dispute, id, value }];
}

function creditNote(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: CreditNote): StateChange[] {
  const biller = operatorSigner(chain, tx, 'biller');
  const bill = getBill(view, b.meterId, b.period);
  if (bill.biller !== biller) reject(ReasonCode.BILL_NOT_BILLER, `the bill was issued by biller "${bill.biller}"`, 'kid');
  const abs = bill.total < 0n ? -bill.total : bill.total;
  if (bill.credited + b.amount > abs) reject(ReasonCode.CREDIT_EXCEEDS_BILL, `credits ${bill.credited} + ${b.amount} exceed the bill's ${abs}`, 'amount');
  const id = billId(b.meterId, b.period);
  const changes: StateChange[] = [
    { kind: StateKind.Bill, id, value: { ...bill, credited: bill.credited + b.amount } satisfies BillRecord },
    ...move(view, bill.payee, bill.account, b.amount, ReasonCode.CREDIT_INSUFFICIENT_FUNDS),
  ];
  const d = view.get(StateKind.Dispute, id) as DisputeRecord | undefined;
  if (d?.status === 'open') changes.push({ kind: StateKind.Dispute, id, value: { ...d, status: 'credited', note: b.note } satisfies DisputeRecord });
  return changes;
}

function disputeReject(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, b: DisputeReject): StateChange[] {
  const biller = operatorSigner(chain, tx, 'biller');
  const bill = getBill(view, b.meterId, b.period);
  if (bill.biller !== biller) reject(ReasonCode.BILL_NOT_BILLER, `the bill was issued by biller "${bill.biller}"`, 'kid');
  const id = billId(b.meterId, b.period);
  const d = view.get(StateKind.Dispute, id) as DisputeRecord | undefined;
  if (d?.status !== 'open') return reject(ReasonCode.DISPUTE_UNKNOWN, `the bill of "${b.meterId}" for ${b.period} has no open dispute`, 'period');
  return [{ kind: StateKind.Dispute, id, value: { ...d, status: 'rejected', note: b.note } satisfies DisputeRecord }];
}

/**
 * Apply a ledger transaction (types 6-19): the changes, or a RejectionError. The tx is
 * decoded (decodeAnyTx), not yet checked against state: its signature is checked here,
 * against the key the rule requires (§13.3).
 */
export function applyLedgerTx(chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, ctx: BlockContext): StateChange[] {
  const b = tx.body;
  if (!isLedgerTxBody(b)) return reject(ReasonCode.SCHEMA, `type ${b.type} is not a ledger transaction`, 'type');
  if (!chain.currency) reject(ReasonCode.LEDGER_DISABLED, 'this chain has no currency in genesis: accounts and billing are off', 'type');
  return ruleOf(b)(chain, view, tx, ctx);
}

type Rule = (chain: LedgerChain, view: StateReader, tx: SignedTx<TxBody>, ctx: BlockContext) => StateChange[];
function ruleOf(b: LedgerTxBody): Rule {
  switch (b.type) {
    case LedgerTxType.AccountOpen: return (c, v, t) => accountOpen(c, v, t, b);
    case LedgerTxType.AccountRotate: return (c, v, t) => accountRotate(c, v, t, b);
    case LedgerTxType.MeterAssign: return (c, v, t) => meterAssign(c, v, t, b);
    case LedgerTxType.Deposit:
    case LedgerTxType.Withdrawal: return (c, v, t, x) => transfer(c, v, t, b, x);
    case LedgerTxType.TariffPublish: return (c, v, t, x) => tariffPublish(c, v, t, b, x);
    case LedgerTxType.Agreement: return (c, v, t) => agreementSet(c, v, t, b);
    case LedgerTxType.Bill: return (c, v, t, x) => billIssue(c, v, t, b, x);
    case LedgerTxType.Mandate: return (c, v, t, x) => mandateSet(c, v, t, b, x);
    case LedgerTxType.MandateRevoke: return (c, v, t) => mandateRevoke(c, v, t, b);
    case LedgerTxType.Payment: return (c, v, t, x) => payment(c, v, t, b, x);
    case LedgerTxType.Dispute: return (c, v, t) => dispute(c, v, t, b);
    case LedgerTxType.CreditNote: return (c, v, t) => creditNote(c, v, t, b);
    case LedgerTxType.DisputeReject: return (c, v, t) => disputeReject(c, v, t, b);
  }
}

/** The rules in the shape of ../state.ts, one per type, for a node's dispatch table. */
export function ledgerRules(chain: LedgerChain): ReadonlyMap<LedgerTxType, LedgerRule> {
  const rule: LedgerRule = (view, tx, ctx) => applyLedgerTx(chain, view, tx, ctx);
  return new Map(Object.values(LedgerTxType).map((t) => [t, rule]));
}


/** A committed reading as a ReadingIndex holds it: the engine's fields and the height it was committed at. */
export interface IndexedReading extends BillReading {
  readonly height: number;
}

const byTimeThenSeq = (a: BillReading, b: BillReading): number => a.time - b.time || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

/**
 * A ReadingIndex over readings in memory: for a browser or `bill verify` replaying
 * receipts, and for tests; the node keeps one of the meters its bills name
 * (ledger-node/state/ledger.ts).
 */
export class MemoryReadingIndex implements ReadingIndex {
  private readonly byMeter = new Map<string, IndexedReading[]>();

  add(meterId: string, r: IndexedReading): void {
    const list = this.byMeter.get(meterId) ?? [];
    // By time then seq; readings mostly come in time order, so from the end.
    let i = list.length;
    while (i > 0 && byTimeThenSeq(list[i - 1]!, r) > 0) i--;
    list.splice(i, 0, r);
    this.byMeter.set(meterId, list);
  }

  /** Forget a meter's readings. */
  delete(meterId: string): void {
    this.byMeter.delete(meterId);
  }

  /**
   * The first place in the meter's list (kept in (time, seq) order) whose time is >= t
   * (`after`: > t). The queries below read the list from there instead of filtering all of
   * it at each call: a bill asks several times of a month of ~3,000 readings.
   */
  private static place(list: readonly IndexedReading[], t: number, after: boolean): number {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const time = list[mid]!.time;
      if (time < t || (after && time === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  between(meterId: string, from: number, to: number, atHeight: number): readonly BillReading[] {
    const list = this.byMeter.get(meterId) ?? [];
    const out: IndexedReading[] = [];
    for (let i = MemoryReadingIndex.place(list, from, false); i < list.length && list[i]!.time <= to; i++) if (list[i]!.height <= atHeight) out.push(list[i]!);
    return out;
  }

  latestAtOrBefore(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined {
    const list = this.byMeter.get(meterId) ?? [];
    for (let i = MemoryReadingIndex.place(list, t, true) - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.height <= atHeight && (!withExport || r.exportWh !== undefined)) return r;
    }
    return undefined;
  }

  earliestAtOrAfter(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined {
    const list = this.byMeter.get(meterId) ?? [];
    for (let i = MemoryReadingIndex.place(list, t, false); i < list.length; i++) {
      const r = list[i]!;
      if (r.height <= atHeight && (!withExport || r.exportWh !== undefined)) return r;
    }
    return undefined;
  }
}

/**
 * A state value back from its CBOR (a store, a vector file): text-keyed maps become plain
 * objects again, as the rules wrote them (decodeCbor gives Maps). Integers below 2^53 come
 * back as numbers; the rules read amounts through big().
 */
export function decodeLedgerValue(bytes: Uint8Array): unknown {
  const plain = (x: unknown): unknown => {
    if (x instanceof Map) {
      if (![...x.keys()].every((k) => typeof k === 'string')) return new Map([...x].map(([k, v]) => [k, plain(v)]));
      return Object.fromEntries([...x].map(([k, v]) => [k, plain(v)]));
    }
    return Array.isArray(x) ? x.map(plain) : x;
  };
  return plain(decodeCbor(bytes));
}
