/**
 * docs/billing.md §17.2: the bill of a confidential meter discloses the content keys of
 * exactly the readings it needs; the rule opens those alone, checks the stated values,
 * recomputes the bill as for any meter, and refuses a missing, extra or wrong disclosure
 * each with its own code. The other readings stay sealed: the rule is given no key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BillDisclosure, type BlockContext, Kem, LedgerTxType as T, type LedgerTxBody, MemorySealedReadingIndex, ReasonCode, RejectionError,
  type StateChange, StateKind, type StateReader, TxType, applyLedgerTx, computeBill, decodeAnyTx, discloseForBill, kemPublicKey, ledgerChain,
  periodKeySchedule, sealReading, verifyDisclosure,
} from '../../../protocols/index.js';
import { CHAIN_ID, seed } from '../../vectors/fixed.js';
import { at } from '../../vectors/billing.js';
import { LEDGER_KEYS, LEDGER_READINGS, LedgerHarness, flatTariff, publicOf } from '../../vectors/billing-ledger.js';

const DEC = at('2025-12-20T00:00:00Z');
const FEB = at('2026-02-02T00:00:00Z');
let height = 100;
const ctx = (time: number): BlockContext => ({ height: height++, time });

/** meter-2 confidential: its readings (those of the harness) sealed under one period key, in a sealed index. */
function setup() {
  const h = new LedgerHarness();
  const sealed = new MemorySealedReadingIndex();
  const chain = ledgerChain(h.genesis, h.index, undefined, sealed);
  const run = (body: LedgerTxBody, signer: 'registrar' | 'biller' | 'custodian' = 'biller'): RejectionError | undefined => {
    const view: StateReader = { get: (kind, id) => h.get(kind, id) };
    try {
      const changes: StateChange[] = applyLedgerTx(chain, view, decodeAnyTx(h.sign(body, signer), h.genesis.params.maxTxBytes), ctx(body.type === T.Bill ? FEB : DEC));
      for (const c of changes) h.state.set(`${c.kind}\u0000${c.id}`, c);
      return undefined;
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      return e;
    }
  };
  for (const a of ['john', 'mary', 'superenergy'] as const) {
    assert.equal(run({ type: T.AccountOpen, time: DEC, account: a, alg: LEDGER_KEYS[a], publicKey: publicOf(a) }, 'registrar'), undefined);
  }
  assert.equal(run({ type: T.MeterAssign, time: DEC, meterId: 'meter-1', account: 'john' }, 'registrar'), undefined);
  assert.equal(run({ type: T.MeterAssign, time: DEC, meterId: 'meter-2', account: 'mary' }, 'registrar'), undefined);
  const flat = flatTariff();
  assert.equal(run({ type: T.TariffPublish, time: DEC, tariff: flat }), undefined);
  for (const m of ['meter-1', 'meter-2']) assert.equal(run({ type: T.Agreement, time: DEC, meterId: m, from: flat.effectiveFrom, tariff: flat.tariff }), undefined);
  const m2 = h.get(StateKind.Meter, 'meter-2') as object;
  h.put(StateKind.Meter, 'meter-2', { ...m2, recipients: [{ id: 'biller-1/enc-1', kem: Kem.X25519, publicKey: kemPublicKey(Kem.X25519, seed('enc')) }] });
  const schedule = periodKeySchedule(seed('period-key'), 'meter-2', '2026-01');
  const bodies = LEDGER_READINGS.filter((r) => r.meterId === 'meter-2').map(({ reading: r }) => {
    const body = sealReading(CHAIN_ID, schedule, { type: TxType.Reading, meterId: 'meter-2', seq: r.seq, time: r.time, importWh: r.importWh });
    sealed.add('meter-2', { seq: r.seq, time: r.time, height: r.height, reading: body });
    return body;
  });
  // What the biller computes from the readings it opened (the harness's clear copies of the same values).
  const bill = h.bill('meter-2', '2026-01', 9);
  const disclose = (seqs: readonly bigint[]) => discloseForBill(CHAIN_ID, [schedule], bodies, seqs);
  const billTx = (disclosures?: readonly BillDisclosure[], b = bill): LedgerTxBody =>
    ({ type: T.Bill, time: FEB, payee: 'superenergy', height: 9, bill: b, ...(disclosures ? { disclosures } : {}) }) as LedgerTxBody;
  return { h, run, bill, disclose, billTx };
}

const code = (e: RejectionError | undefined): string => e?.code ?? 'accepted';

test('a confidential meter\'s bill disclosing exactly its readings is recomputed from them and accepted', () => {
  const { h, run, bill, disclose, billTx } = setup();
  assert.deepEqual(bill.readings, [1n, 2n, 3n, 4n], 'the brackets of the period\'s day boundaries');
  assert.equal(code(run(billTx(disclose(bill.readings)))), 'accepted');
  const rec = h.get(StateKind.Bill, 'meter-2/2026-01') as { total: bigint };
  assert.equal(BigInt(rec.total), BigInt(bill.total));
});

test('refusals: no disclosures, a wrong key, a misstated value, one too many, a bracket reading left out, disclosures of a clear meter', () => {
  const { run, bill, disclose, billTx, h } = setup();
  const ds = disclose(bill.readings);
  assert.equal(code(run(billTx())), ReasonCode.BILL_CONFIDENTIAL, 'no disclosures');
  assert.equal(code(run(billTx([{ ...ds[0]!, contentKey: ds[1]!.contentKey }, ...ds.slice(1)]))), ReasonCode.CONF_BAD_DISCLOSURE_KEY, 'reading 1 with the key of reading 2');
  const misstated = run(billTx([ds[0]!, { ...ds[1]!, importWh: ds[1]!.importWh - 1 }, ...ds.slice(2)]));
  assert.equal(code(misstated), ReasonCode.BILL_DISCLOSED_VALUE, 'importWh of reading 2 one less');
  assert.equal(misstated?.field, 'disclosures[1].importWh');
  assert.equal(code(run(billTx(disclose([1n, 2n, 3n, 4n, 5n])))), ReasonCode.BILL_DISCLOSURES, 'reading 5, not needed, disclosed too');
  // A biller leaving out reading 2 and computing the bill from 1, 3, 4: consistent with
  // itself, but reading 2 brackets January's day boundaries on the ledger (its clear time says so).
  const withoutTwo = disclose([1n, 3n, 4n]);
  const flat = flatTariff();
  const skewed = computeBill({
    meterId: 'meter-2', period: '2026-01', currency: h.genesis.currency!, agreements: [{ from: flat.effectiveFrom, tariff: flat.tariff }], tariffs: [flat],
    readings: LEDGER_READINGS.filter((r) => r.meterId === 'meter-2' && [1n, 3n, 4n].includes(r.reading.seq)).map((r) => r.reading),
  });
  assert.deepEqual(skewed.readings, [1n, 3n, 4n]);
  const left = run(billTx(withoutTwo, skewed));
  assert.equal(code(left), ReasonCode.BILL_DISCLOSURES, 'reading 2 left out');
  assert.match(left!.message, /reading 2 .*brackets/);
  assert.equal(code(run({ ...billTx(disclose(bill.readings)), bill: h.bill('meter-1', '2026-01', 9) } as LedgerTxBody)), ReasonCode.BILL_DISCLOSURES, 'a clear meter\'s bill discloses nothing');
  assert.equal(h.get(StateKind.Bill, 'meter-2/2026-01'), undefined, 'nothing was billed');
});

test('erasure (protocol.md §11.8): with the period key gone, only the disclosed readings open, each with its own key; the bill still verifies', () => {
  const { run, bill, disclose, billTx } = setup();
  const ds = disclose(bill.readings);
  // What stays on the ledger after the period key and the recipients' copies are erased:
  // the sealed readings and the bill's disclosures. Nothing else is kept from here on.
  const schedule = periodKeySchedule(seed('period-key'), 'meter-2', '2026-01');
  const undisclosed = LEDGER_READINGS.filter((r) => r.meterId === 'meter-2' && !bill.readings.includes(r.reading.seq)).map(({ reading: r }) =>
    sealReading(CHAIN_ID, schedule, { type: TxType.Reading, meterId: 'meter-2', seq: r.seq, time: r.time, importWh: r.importWh }));
  assert.ok(undisclosed.length >= 1, 'the period has readings the bill does not need');
  for (const r of undisclosed) {
    for (const d of ds) {
      assert.throws(() => verifyDisclosure(CHAIN_ID, r, { meterId: 'meter-2', seq: r.seq, contentKey: d.contentKey }),
        (e: unknown) => e instanceof RejectionError && e.code === ReasonCode.CONF_BAD_DISCLOSURE_KEY, `reading ${r.seq} does not open with the key of ${d.seq}`);
    }
  }
  assert.equal(code(run(billTx(ds))), 'accepted', 'the bill verifies from its disclosures alone');
});
