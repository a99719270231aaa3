/**
 * The ledger's rules for types 6-19 (docs/billing.md §13-20), one refusal at a time,
 * beyond those the vectors show; an owner key made by WebCrypto; decoding and per-type
 * size limits; genesis currency, roles and cycle; and a property: random deposits,
 * withdrawals and payments never make a balance negative and conserve the sum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import {
  Alg, type BlockContext, type Bill, LedgerTxType as T, type LedgerTxBody, MAX_AMOUNT, ReasonCode, StateKind, applyLedgerTx, decodeAnyTx,
  decodeTx, encodeCoseSign1, encodeProtectedHeader, encodeTxBody, genesisHash, parseGenesis, sigStructure, tariffFromJson, utcMonth,
  type TxBody,
} from '../../../protocols/index.js';
import { CHAIN_ID } from '../../vectors/fixed.js';
import { at, TARIFF_JSON } from '../../vectors/billing.js';
import { type KeyLabel, LEDGER_KEYS, LedgerHarness, flatTariff, ledgerGenesisJson, publicOf } from '../../vectors/billing-ledger.js';

const DEC = at('2025-12-20T00:00:00Z');
const FEB = at('2026-02-02T00:00:00Z');
const EXPIRES = at('2027-01-01T00:00:00Z');
let height = 100;
const ctx = (time: number): BlockContext => ({ height: height++, time });

function run(h: LedgerHarness, signer: KeyLabel, body: LedgerTxBody, time: number, kid: string | null = signer) {
  return h.run(h.sign(body, signer, kid), ctx(time));
}
function ok(h: LedgerHarness, signer: KeyLabel, body: LedgerTxBody, time: number, kid: string | null = signer): void {
  const r = run(h, signer, body, time, kid);
  assert.equal(r.error, undefined, r.error?.message);
}
function refused(h: LedgerHarness, code: string, field: string | undefined, signer: KeyLabel, body: LedgerTxBody, time: number, kid: string | null = signer): void {
  const before = new Map(h.state);
  const r = run(h, signer, body, time, kid);
  assert.equal(r.error?.code, code, r.error?.message ?? 'accepted');
  if (field !== undefined) assert.equal(r.error?.field, field);
  assert.deepEqual(h.state, before, 'a refusal changes nothing');
}
const open = (account: KeyLabel): LedgerTxBody => ({ type: T.AccountOpen, time: DEC, account, alg: LEDGER_KEYS[account], publicKey: publicOf(account) });
const mandate = (over: Partial<Extract<LedgerTxBody, { type: 14 }>> = {}): LedgerTxBody => ({
  type: T.Mandate, time: DEC, account: 'john', payee: 'superenergy', meters: ['meter-1'], capPerBill: 20_000n, capPerMonth: 30_000n, expires: EXPIRES, autopay: false, ...over,
});
const balance = (h: LedgerHarness, id: string): bigint => BigInt((h.get(StateKind.Account, id) as { balance: bigint | number }).balance);

/** Accounts john, mary, superenergy; meters assigned; the flat tariff agreed for both meters; john funded. */
function setup(): LedgerHarness {
  const h = new LedgerHarness();
  for (const a of ['john', 'mary', 'superenergy'] as const) ok(h, 'registrar', open(a), DEC);
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC, meterId: 'meter-1', account: 'john' }, DEC);
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC, meterId: 'meter-2', account: 'mary' }, DEC);
  const flat = flatTariff();
  ok(h, 'biller', { type: T.TariffPublish, time: DEC, tariff: flat }, DEC);
  for (const m of ['meter-1', 'meter-2']) ok(h, 'biller', { type: T.Agreement, time: DEC, meterId: m, from: flat.effectiveFrom, tariff: flat.tariff }, DEC);
  ok(h, 'custodian', { type: T.Deposit, time: DEC, account: 'john', amount: 100_000n, reference: 'dep-1' }, DEC);
  return h;
}
const billTx = (h: LedgerHarness, meterId: string, period = '2026-01', over: Partial<Bill> = {}): LedgerTxBody => ({
  type: T.Bill, time: FEB, payee: 'superenergy', height: 9, bill: { ...h.bill(meterId, period, 9), ...over },
});
const pay = (h: LedgerHarness, meterId = 'meter-1', period = '2026-01'): LedgerTxBody => ({
  type: T.Payment, time: FEB, meterId, period, amount: BigInt(h.bill(meterId, period, 9).total),
});

test('signers: an operator outside genesis, a role it lacks, another algorithm, an owner kid that is not the account', () => {
  const h = setup();
  refused(h, ReasonCode.NOT_OPERATOR, 'kid', 'registrar', open('bob'), DEC, 'nobody');
  refused(h, ReasonCode.TX_ROLE, 'kid', 'custodian', open('bob'), DEC);
  refused(h, ReasonCode.TX_ROLE, 'kid', 'registrar', { type: T.Deposit, time: DEC, account: 'john', amount: 1n, reference: 'r' }, DEC);
  refused(h, ReasonCode.TX_ROLE, 'kid', 'legacy', { type: T.TariffPublish, time: DEC, tariff: flatTariff() }, DEC);
  refused(h, ReasonCode.BAD_ALG, 'alg', 'mary', open('bob'), DEC, 'registrar'); // an ES256 signature under an Ed25519 operator's kid
  refused(h, ReasonCode.TX_NOT_OWNER, 'kid', 'mary', mandate(), DEC, 'mary');
  refused(h, ReasonCode.BAD_SIGNATURE, 'signature', 'bob', mandate(), DEC, 'john');
});

test('a chain without a currency refuses every ledger type: E_LEDGER_DISABLED', () => {
  const g = ledgerGenesisJson();
  delete g.currency;
  const h = new LedgerHarness(g);
  refused(h, ReasonCode.LEDGER_DISABLED, 'type', 'registrar', open('john'), DEC);
});

test('accounts and meters: key epochs, stale and repeated assignment, unknown and revoked meters', () => {
  const h = setup();
  refused(h, ReasonCode.ACCOUNT_UNKNOWN, 'account', 'registrar', { type: T.AccountRotate, time: DEC, account: 'bob', alg: Alg.EdDSA, publicKey: publicOf('bob'), keyEpoch: 1 }, DEC);
  refused(h, ReasonCode.ACCOUNT_KEY_EPOCH, 'keyEpoch', 'registrar', { type: T.AccountRotate, time: DEC, account: 'john', alg: Alg.EdDSA, publicKey: publicOf('john-2'), keyEpoch: 2 }, DEC);
  ok(h, 'registrar', { type: T.AccountRotate, time: DEC, account: 'john', alg: Alg.EdDSA, publicKey: publicOf('john-2'), keyEpoch: 1 }, DEC);
  refused(h, ReasonCode.BAD_SIGNATURE, 'signature', 'john', mandate(), DEC);
  ok(h, 'john-2', mandate(), DEC, 'john');
  refused(h, ReasonCode.TX_CONFLICT, 'account', 'registrar', { type: T.MeterAssign, time: DEC + 1, meterId: 'meter-1', account: 'john' }, DEC);
  refused(h, ReasonCode.TX_STALE, 'time', 'registrar', { type: T.MeterAssign, time: DEC, meterId: 'meter-1', account: 'mary' }, DEC);
  refused(h, ReasonCode.UNKNOWN_METER, 'meterId', 'registrar', { type: T.MeterAssign, time: DEC + 1, meterId: 'meter-9', account: 'mary' }, DEC);
  h.put(StateKind.Meter, 'meter-2', { ...(h.get(StateKind.Meter, 'meter-2') as object), revoked: true });
  refused(h, ReasonCode.METER_REVOKED, 'meterId', 'registrar', { type: T.MeterAssign, time: DEC + 1, meterId: 'meter-2', account: 'john' }, DEC);
});

test('deposits and withdrawals: idempotent per custodian reference, never negative, capped at 2^63-1', () => {
  const h = setup();
  refused(h, ReasonCode.ACCOUNT_UNKNOWN, 'account', 'custodian', { type: T.Deposit, time: DEC, account: 'bob', amount: 5n, reference: 'x' }, DEC);
  refused(h, ReasonCode.TRANSFER_DUPLICATE, 'reference', 'custodian', { type: T.Withdrawal, time: DEC, account: 'john', amount: 5n, reference: 'dep-1' }, DEC);
  ok(h, 'custodian', { type: T.Withdrawal, time: DEC, account: 'john', amount: 100_000n, reference: 'w-1' }, DEC);
  assert.equal(balance(h, 'john'), 0n);
  refused(h, ReasonCode.ACCOUNT_INSUFFICIENT_FUNDS, 'amount', 'custodian', { type: T.Withdrawal, time: DEC, account: 'john', amount: 1n, reference: 'w-2' }, DEC);
  ok(h, 'custodian', { type: T.Deposit, time: DEC, account: 'mary', amount: MAX_AMOUNT, reference: 'big' }, DEC);
  refused(h, ReasonCode.ACCOUNT_BALANCE_LIMIT, 'amount', 'custodian', { type: T.Deposit, time: DEC, account: 'mary', amount: 1n, reference: 'big-2' }, DEC);
  assert.equal(balance(h, 'mary'), MAX_AMOUNT, 'above 2^53 the balance is a bigint, exact');
});

test('tariffs: owner, currency, retroactive, conflicting instant; agreements: unknown tariff, other biller, ending', () => {
  const g = ledgerGenesisJson();
  (g.operators as object[]).push({ ...(g.operators as { alg: string; publicKey: string }[])[1], id: 'biller-2', roles: ['biller'] });
  const h = new LedgerHarness(g);
  for (const a of ['john', 'superenergy'] as const) ok(h, 'registrar', open(a), DEC);
  const flat = flatTariff();
  refused(h, ReasonCode.TARIFF_RETROACTIVE, 'effectiveFrom', 'biller', { type: T.TariffPublish, time: DEC, tariff: flat }, flat.effectiveFrom + 1);
  ok(h, 'biller', { type: T.TariffPublish, time: DEC, tariff: flat }, DEC);
  refused(h, ReasonCode.TARIFF_NOT_OWNER, 'tariff', 'biller', { type: T.TariffPublish, time: DEC, tariff: tariffFromJson({ ...TARIFF_JSON.flat, name: 'other' }) }, DEC, 'biller-2');
  refused(h, ReasonCode.TARIFF_CONFLICT, 'effectiveFrom', 'biller', { type: T.TariffPublish, time: DEC, tariff: tariffFromJson({ ...TARIFF_JSON.flat, name: 'same instant' }) }, DEC);
  refused(h, ReasonCode.TARIFF_CURRENCY, 'currency', 'biller', { type: T.TariffPublish, time: DEC, tariff: tariffFromJson({ ...TARIFF_JSON.flat, tariff: 'usd', currency: { code: 'USD', minorUnits: 2 } }) }, DEC);
  const agree = (tariff: string | null, from = flat.effectiveFrom): LedgerTxBody => ({ type: T.Agreement, time: DEC, meterId: 'meter-1', from, tariff });
  refused(h, ReasonCode.TARIFF_UNKNOWN, 'tariffName', 'biller', agree('nope'), DEC);
  refused(h, ReasonCode.TARIFF_NOT_OWNER, 'tariffName', 'biller', agree(flat.tariff), DEC, 'biller-2');
  refused(h, ReasonCode.AGREEMENT_NOT_BILLER, 'tariffName', 'biller', agree(null), DEC); // nothing in force to end
  refused(h, ReasonCode.UNKNOWN_METER, 'meterId', 'biller', { type: T.Agreement, time: DEC, meterId: 'meter-9', from: 0, tariff: flat.tariff }, DEC);
  ok(h, 'biller', agree(flat.tariff), DEC);
  refused(h, ReasonCode.AGREEMENT_NOT_BILLER, 'from', 'biller', agree(null), DEC, 'biller-2');
  ok(h, 'biller', agree(null, at('2026-06-01T00:00:00Z')), DEC);
  const rec = h.get(StateKind.Agreement, 'meter-1') as { entries: { tariff: string | null }[] };
  assert.deepEqual(rec.entries.map((e) => e.tariff), [flat.tariff, null]);
});

test('bills: no account, confidential meter, unknown payee, height, readiness, other biller, overlap of periods', () => {
  const h = setup();
  refused(h, ReasonCode.BILL_HEIGHT, 'height', 'biller', { ...billTx(h, 'meter-1'), height: 200 } as LedgerTxBody, FEB);
  refused(h, ReasonCode.ACCOUNT_UNKNOWN, 'payee', 'biller', { ...billTx(h, 'meter-1'), payee: 'nobody' } as LedgerTxBody, FEB);
  // computed at a height before the reading after the period's end was committed
  const early = { type: T.Bill, time: FEB, payee: 'superenergy', height: 4, bill: h.bill('meter-1', '2026-01', 9) } as LedgerTxBody;
  refused(h, ReasonCode.BILL_NOT_READY, 'readings', 'biller', early, FEB);
  const m2 = h.get(StateKind.Meter, 'meter-2') as object;
  h.put(StateKind.Meter, 'meter-2', { ...m2, recipients: [{ id: 'biller-1/enc-1', kem: 32, publicKey: new Uint8Array(32).fill(9) }] });
  refused(h, ReasonCode.BILL_CONFIDENTIAL, 'disclosures', 'biller', billTx(h, 'meter-2'), FEB);
  h.put(StateKind.Meter, 'meter-2', { ...m2, owner: 'someone-gone' });
  refused(h, ReasonCode.BILL_NO_ACCOUNT, 'meterId', 'biller', billTx(h, 'meter-2'), FEB);
  h.put(StateKind.Meter, 'meter-2', m2);
  // a biller whose tariff the bill does not use
  const g = ledgerGenesisJson();
  (g.operators as object[]).push({ ...(g.operators as object[])[1]!, id: 'biller-2', roles: ['biller'] });
  const h2 = new LedgerHarness(g);
  for (const [k, v] of h.state) h2.state.set(k, v);
  refused(h2, ReasonCode.BILL_NOT_BILLER, 'kid', 'biller', billTx(h2, 'meter-1'), FEB, 'biller-2');
  ok(h, 'biller', billTx(h, 'meter-1'), FEB);
  // billed until the end of January: a period starting before it overlaps
  const rec = h.get(StateKind.Agreement, 'meter-1') as { billedUntil: number };
  h.put(StateKind.Agreement, 'meter-1', { ...rec, billedUntil: rec.billedUntil + 1 });
  refused(h, ReasonCode.BILL_OVERLAP, 'period', 'biller', billTx(h, 'meter-1', '2026-02'), at('2026-03-02T00:00:00Z'));
});

test('payments: owner of another account, unknown bill, nothing due, mandate expiry, meter not listed, caps per bill and per month', () => {
  const h = setup();
  ok(h, 'biller', billTx(h, 'meter-1'), FEB);
  const total = BigInt(h.bill('meter-1', '2026-01', 9).total);
  refused(h, ReasonCode.TX_NOT_OWNER, 'kid', 'mary', pay(h), FEB);
  refused(h, ReasonCode.BILL_UNKNOWN, 'period', 'meter-1', { ...pay(h), period: '2026-02' } as LedgerTxBody, FEB, null);
  refused(h, ReasonCode.PAYMENT_NO_MANDATE, 'mandate', 'meter-1', pay(h), FEB, null);
  ok(h, 'john', mandate({ expires: FEB + 10 }), DEC);
  refused(h, ReasonCode.PAYMENT_MANDATE_EXPIRED, 'expires', 'meter-1', pay(h), FEB + 10, null);
  ok(h, 'john', mandate({ time: DEC + 1, capPerBill: total - 1n }), DEC);
  refused(h, ReasonCode.PAYMENT_CAP_EXCEEDED, 'capPerBill', 'meter-1', pay(h), FEB, null);
  ok(h, 'john', mandate({ time: DEC + 2, capPerMonth: total - 1n }), DEC);
  refused(h, ReasonCode.PAYMENT_CAP_EXCEEDED, 'capPerMonth', 'meter-1', pay(h), FEB, null);
  refused(h, ReasonCode.MANDATE_METER_NOT_OWNED, 'meters[0]', 'john', mandate({ time: DEC + 3, meters: ['meter-2'] }), DEC);
  ok(h, 'john', mandate({ time: DEC + 3 }), DEC);
  // the meter moves to another account: it may no longer pay john's bill
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC + 1, meterId: 'meter-1', account: 'mary' }, DEC);
  refused(h, ReasonCode.PAYMENT_METER_NOT_ALLOWED, 'meterId', 'meter-1', pay(h), FEB, null);
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC + 2, meterId: 'meter-1', account: 'john' }, DEC);
  const before = balance(h, 'john');
  ok(h, 'meter-1', pay(h), FEB, null);
  assert.equal(balance(h, 'john'), before - total);
  assert.equal(balance(h, 'superenergy'), total);
  const m = h.get(StateKind.Mandate, 'john/superenergy') as { spent: bigint; month: string };
  assert.deepEqual([m.spent, m.month], [total, '2026-02']);
  // a bill of total 0 takes no payment
  ok(h, 'biller', billTx(h, 'meter-2'), FEB);
  const b = h.get(StateKind.Bill, 'meter-2/2026-01') as object;
  h.put(StateKind.Bill, 'meter-2/2026-01', { ...b, total: 0n });
  refused(h, ReasonCode.BILL_NOTHING_DUE, 'period', 'mary', { ...pay(h, 'meter-2'), amount: 1n } as LedgerTxBody, FEB);
});

test('the monthly cap counts payments of one UTC month and starts again the next', () => {
  assert.equal(utcMonth(at('2026-01-31T23:59:59Z')), '2026-01');
  assert.equal(utcMonth(at('2026-02-01T00:00:00Z')), '2026-02');
  const h = setup();
  const jan = BigInt(h.bill('meter-1', '2026-01', 9).total);
  ok(h, 'john', mandate({ autopay: true, capPerMonth: jan + 10n }), DEC);
  ok(h, 'biller', billTx(h, 'meter-1'), FEB);
  assert.equal((h.get(StateKind.Payment, 'meter-1/2026-01') as { by: string }).by, 'autopay');
  const feb = BigInt(h.bill('meter-1', '2026-02', 9).total);
  assert.ok(feb > 10n);
  ok(h, 'biller', { ...billTx(h, 'meter-1', '2026-02'), time: FEB } as LedgerTxBody, at('2026-03-02T00:00:00Z'));
  assert.equal((h.get(StateKind.Payment, 'meter-1/2026-02') as { by: string }).by, 'autopay', 'a new month, a new cap');
});

test('autopay refused: the bill lands unpaid with the code, and the owner pays after a deposit', () => {
  const h = setup();
  ok(h, 'custodian', { type: T.Withdrawal, time: DEC, account: 'john', amount: 100_000n, reference: 'w' }, DEC);
  ok(h, 'john', mandate({ autopay: true }), DEC);
  ok(h, 'biller', billTx(h, 'meter-1'), FEB);
  assert.equal((h.get(StateKind.Bill, 'meter-1/2026-01') as { autopayRefused: string }).autopayRefused, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS);
  assert.equal(h.get(StateKind.Payment, 'meter-1/2026-01'), undefined);
  ok(h, 'custodian', { type: T.Deposit, time: FEB, account: 'john', amount: 50_000n, reference: 'd' }, FEB);
  ok(h, 'john', pay(h), FEB);
  assert.equal((h.get(StateKind.Payment, 'meter-1/2026-01') as { by: string }).by, 'owner');
});

test('mandates: expired at signing, unknown payee, replay of a revoked mandate is stale', () => {
  const h = setup();
  refused(h, ReasonCode.MANDATE_EXPIRED, 'expires', 'john', mandate({ expires: DEC }), DEC);
  refused(h, ReasonCode.ACCOUNT_UNKNOWN, 'payee', 'john', mandate({ payee: 'nobody' }), DEC);
  refused(h, ReasonCode.UNKNOWN_METER, 'meters[0]', 'john', mandate({ meters: ['meter-9'] }), DEC);
  const signed = h.sign(mandate(), 'john');
  assert.equal(h.run(signed, ctx(DEC)).error, undefined);
  ok(h, 'john', { type: T.MandateRevoke, time: DEC + 5, account: 'john', payee: 'superenergy' }, DEC);
  assert.equal(h.run(signed, ctx(DEC)).error?.code, ReasonCode.TX_STALE, 'the old mandate replayed does not come back');
  refused(h, ReasonCode.MANDATE_UNKNOWN, 'payee', 'john', { type: T.MandateRevoke, time: DEC + 6, account: 'john', payee: 'superenergy' }, DEC);
});

test('disputes and credit notes: owner only, biller only, credit bounded by the bill and the payee balance', () => {
  const h = setup();
  ok(h, 'biller', billTx(h, 'meter-1'), FEB);
  const total = BigInt(h.bill('meter-1', '2026-01', 9).total);
  const dispute: LedgerTxBody = { type: T.Dispute, time: FEB, meterId: 'meter-1', period: '2026-01', reason: 'high', readings: [2n, 3n] };
  refused(h, ReasonCode.TX_NOT_OWNER, 'kid', 'mary', dispute, FEB);
  refused(h, ReasonCode.BILL_UNKNOWN, 'period', 'john', { ...dispute, period: '2026-02' } as LedgerTxBody, FEB);
  const credit = (amount: bigint): LedgerTxBody => ({ type: T.CreditNote, time: FEB, meterId: 'meter-1', period: '2026-01', amount, note: 'sorry' });
  refused(h, ReasonCode.CREDIT_INSUFFICIENT_FUNDS, 'amount', 'biller', credit(1n), FEB); // the payee holds nothing yet
  ok(h, 'john', pay(h), FEB);
  refused(h, ReasonCode.CREDIT_EXCEEDS_BILL, 'amount', 'biller', credit(total + 1n), FEB);
  const g = ledgerGenesisJson();
  (g.operators as object[]).push({ ...(g.operators as object[])[1]!, id: 'biller-2', roles: ['biller'] });
  const h2 = new LedgerHarness(g);
  for (const [k, v] of h.state) h2.state.set(k, v);
  refused(h2, ReasonCode.BILL_NOT_BILLER, 'kid', 'biller', credit(1n), FEB, 'biller-2');
  refused(h, ReasonCode.DISPUTE_UNKNOWN, 'period', 'biller', { type: T.DisputeReject, time: FEB, meterId: 'meter-1', period: '2026-01', note: 'no' }, FEB);
  ok(h, 'john', dispute, FEB);
  ok(h, 'biller', credit(total), FEB);
  assert.equal(balance(h, 'superenergy'), 0n, 'the whole bill credited back');
  assert.equal((h.get(StateKind.Dispute, 'meter-1/2026-01') as { status: string }).status, 'credited');
  refused(h, ReasonCode.CREDIT_EXCEEDS_BILL, 'amount', 'biller', credit(1n), FEB);
  refused(h, ReasonCode.TX_STALE, 'time', 'john', dispute, FEB);
});

test('an owner key made by WebCrypto (ECDSA P-256): the account opens with it and its signature pays', async () => {
  const subtle = webcrypto.subtle;
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey)); // 65-byte SEC1 point
  const h = setup();
  ok(h, 'registrar', { type: T.AccountOpen, time: DEC, account: 'web', alg: Alg.ES256, publicKey: raw }, DEC);
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC + 1, meterId: 'meter-2', account: 'web' }, DEC);
  ok(h, 'custodian', { type: T.Deposit, time: DEC, account: 'web', amount: 100_000n, reference: 'web-1' }, DEC);
  ok(h, 'biller', billTx(h, 'meter-2'), FEB);
  // What a browser does: the COSE protected header and Sig_structure, signed by subtle (IEEE P1363 r||s).
  const payload = encodeTxBody(pay(h, 'meter-2') as TxBody);
  const prot = encodeProtectedHeader(Alg.ES256, 'web');
  const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, sigStructure(prot, payload, CHAIN_ID)));
  const r = h.run(encodeCoseSign1(prot, payload, sig), ctx(FEB));
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal((h.get(StateKind.Payment, 'meter-2/2026-01') as { by: string }).by, 'owner');
  // and a signature over other bytes does not
  const bad = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, sigStructure(prot, payload, 'other-chain')));
  assert.equal(h.run(encodeCoseSign1(prot, payload, bad), ctx(FEB)).error?.code, ReasonCode.BAD_SIGNATURE);
});

test('decoding: ledger types through decodeAnyTx only, required labels, per-type size limits', () => {
  const h = setup();
  const bytes = h.sign(open('bob'), 'registrar');
  assert.equal(decodeAnyTx(bytes).body.type, T.AccountOpen);
  assert.throws(() => decodeTx(bytes), { code: ReasonCode.SCHEMA }, 'a node not applying types 6-19 refuses them');
  const big = h.sign({ type: T.Deposit, time: DEC, account: 'john', amount: 1n, reference: 'r'.repeat(128) }, 'custodian');
  assert.throws(() => decodeAnyTx(big, 100), { code: ReasonCode.TOO_LARGE }, 'types without their own limit keep maxTxBytes');
  const tariff = h.sign({ type: T.TariffPublish, time: DEC, tariff: tariffFromJson(TARIFF_JSON.tou) }, 'biller');
  assert.ok(tariff.length > 100);
  assert.equal(decodeAnyTx(tariff, 100).body.type, T.TariffPublish, 'a tariff has its own limit (32768)');
  const huge = new Uint8Array(32769);
  assert.throws(() => decodeAnyTx(huge, 1024), { code: ReasonCode.TOO_LARGE });
  assert.throws(() => decodeAnyTx(h.sign({ type: T.Deposit, time: DEC, account: 'john', amount: 0n, reference: 'r' }, 'custodian')), { code: ReasonCode.SCHEMA, field: 'amount' });
  assert.throws(() => decodeAnyTx(h.sign(mandate({ meters: ['meter-2', 'meter-1'] }), 'john')), { code: ReasonCode.SCHEMA, field: 'meters[1]' });
  assert.throws(() => decodeAnyTx(h.sign({ type: T.Payment, time: FEB, meterId: 'meter-1', period: '2026-1', amount: 1n }, 'john')), { code: ReasonCode.SCHEMA, field: 'period' });
});

test('genesis: currency, roles and cycle are validated and normalized; files without them keep their hash', () => {
  const base = ledgerGenesisJson();
  delete base.currency;
  (base.operators as { roles?: string[] }[]).forEach((o) => delete o.roles);
  const g0 = parseGenesis(base);
  assert.equal(g0.currency, undefined);
  assert.equal('roles' in g0.operators[0]!, false);
  const withEmpty = parseGenesis({ ...base, operators: (base.operators as object[]).map((o) => ({ ...o })) });
  assert.deepEqual(genesisHash(withEmpty), genesisHash(g0));
  const ops = (roles: unknown): unknown => ({ ...base, operators: [{ ...(base.operators as object[])[0]!, roles }] });
  assert.deepEqual(parseGenesis(ops(['custodian', 'registrar'])).operators[0]!.roles, ['registrar', 'custodian'], 'roles in one order');
  for (const bad of [[], ['root'], ['biller', 'biller'], 'biller']) assert.throws(() => parseGenesis(ops(bad)), { code: 'E_GENESIS_INVALID' }, JSON.stringify(bad));
  for (const c of [{ code: 'eur', minorUnits: 2 }, { code: 'EUR', minorUnits: 7 }, { code: 'EUR' }, { code: 'EUR', minorUnits: 2, x: 1 }]) {
    assert.throws(() => parseGenesis({ ...base, currency: c }), { code: 'E_GENESIS_INVALID' }, JSON.stringify(c));
  }
  const cyc = parseGenesis({ ...base, currency: { code: 'EUR', minorUnits: 2 }, billingCycle: { epoch: '2026-01-01T00:00:00Z', lengthMs: 600_000 } });
  assert.deepEqual(cyc.billingCycle, { epoch: '2026-01-01T00:00:00Z', lengthMs: 600_000 });
  assert.notDeepEqual(genesisHash(cyc), genesisHash(g0));
  for (const c of [{ epoch: '2026-01-01', lengthMs: 600_000 }, { epoch: '2026-01-01T00:00:00Z', lengthMs: 999 }]) {
    assert.throws(() => parseGenesis({ ...base, billingCycle: c }), { code: 'E_GENESIS_INVALID' }, JSON.stringify(c));
  }
});

test('a dev chain with a short cycle bills cycle-N periods', () => {
  const g = { ...ledgerGenesisJson(), billingCycle: { epoch: '2026-01-01T00:00:00+01:00', lengthMs: 10 * 86_400_000 } };
  const h = new LedgerHarness(g);
  for (const a of ['john', 'superenergy'] as const) ok(h, 'registrar', open(a), DEC);
  ok(h, 'registrar', { type: T.MeterAssign, time: DEC, meterId: 'meter-1', account: 'john' }, DEC);
  const flat = flatTariff();
  ok(h, 'biller', { type: T.TariffPublish, time: DEC, tariff: flat }, DEC);
  ok(h, 'biller', { type: T.Agreement, time: DEC, meterId: 'meter-1', from: flat.effectiveFrom, tariff: flat.tariff }, DEC);
  ok(h, 'biller', billTx(h, 'meter-1', 'cycle-0'), FEB);
  const rec = h.get(StateKind.Bill, 'meter-1/cycle-0') as { start: number; end: number };
  assert.deepEqual([rec.start, rec.end], [at('2025-12-31T23:00:00Z'), at('2026-01-10T23:00:00Z')]);
  refused(h, ReasonCode.BILL_PERIOD_INVALID, 'period', 'biller', billTx(h, 'meter-1', 'cycle-1', { period: { label: 'week-1', start: 0, end: 1 } }), FEB);
  // a month over a billed cycle: the periods would overlap
  refused(h, ReasonCode.BILL_OVERLAP, 'period', 'biller', billTx(h, 'meter-1', 'cycle-1', { period: { label: '2026-01', start: 0, end: 1 } }), FEB);
});

test('property: random deposits, withdrawals and payments never make a balance negative and conserve the sum', () => {
  const base = setup();
  // Bills of January for both meters, issued once; the runs below pay them in random order.
  base.run(base.sign({ type: T.Deposit, time: DEC, account: 'mary', amount: 1n, reference: 'seed' }, 'custodian'), ctx(DEC));
  assert.equal(base.run(base.sign(billTx(base, 'meter-1'), 'biller'), ctx(FEB)).error, undefined);
  assert.equal(base.run(base.sign(billTx(base, 'meter-2'), 'biller'), ctx(FEB)).error, undefined);
  const accounts = ['john', 'mary', 'superenergy'] as const;
  const op = fc.oneof(
    fc.record({ k: fc.constant('deposit' as const), a: fc.constantFrom(...accounts), x: fc.bigInt({ min: 1n, max: 60_000n }), ref: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('withdrawal' as const), a: fc.constantFrom(...accounts), x: fc.bigInt({ min: 1n, max: 60_000n }), ref: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('payment' as const), m: fc.constantFrom('meter-1', 'meter-2') }),
  );
  const sum = (h: LedgerHarness): bigint => accounts.reduce((s, a) => s + balance(h, a), 0n);
  fc.assert(fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
    const h = new LedgerHarness();
    for (const [k, v] of base.state) h.state.set(k, v);
    let external = sum(h);
    for (const o of ops) {
      const body: LedgerTxBody = o.k === 'payment'
        ? pay(h, o.m)
        : { type: o.k === 'deposit' ? T.Deposit : T.Withdrawal, time: DEC, account: o.a, amount: o.x, reference: `${o.k}-${o.ref}` };
      const signer: KeyLabel = o.k === 'payment' ? (o.m === 'meter-1' ? 'john' : 'mary') : 'custodian';
      const r = h.run(h.sign(body, signer), ctx(FEB));
      if (!r.error && o.k === 'deposit') external += o.x;
      if (!r.error && o.k === 'withdrawal') external -= o.x;
      if (r.error) {
        assert.ok([ReasonCode.ACCOUNT_INSUFFICIENT_FUNDS, ReasonCode.TRANSFER_DUPLICATE, ReasonCode.PAYMENT_INSUFFICIENT_FUNDS, ReasonCode.BILL_ALREADY_PAID].includes(r.error.code as never), r.error.message);
      }
      for (const a of accounts) assert.ok(balance(h, a) >= 0n, `${a} negative`);
      assert.equal(sum(h), external, 'balances sum to deposits minus withdrawals');
    }
  }), { numRuns: 60 });
});
