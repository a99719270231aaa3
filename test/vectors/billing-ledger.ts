/**
 * Vectors of the ledger's accounts, money and billing transactions (docs/billing.md §13-20):
 * one chain from a fixed genesis, a reading index, and a sequence of signed transactions
 * from fixed keys, each with the block it is in, the records its rule read (before) and
 * either the changes it made or the code that refused it. Built by generate.ts into
 * test/vectors/billing-ledger.json; billing-ledger-vectors.test.ts replays the file.
 *
 * LedgerHarness is also what the unit tests of the rules use: a state in a Map, the rules
 * of protocols/billing/ledger.ts, signing with the fixed keys.
 */
import {
  Alg, AlgName, type Bill, type BlockContext, LedgerTxType, type LedgerTxBody, type LedgerChain, MemoryReadingIndex, RejectionError,
  type StateChange, StateKind, type StateReader, type Tariff, type TxBody, applyLedgerTx, computeBill, decodeAnyTx, encodeCbor,
  ledgerChain, parseGenesis, publicKeyOf, signTx, tariffFromJson, toHex, type Genesis, type IndexedReading,
} from '../../protocols/index.js';
import { CHAIN_ID, seed } from './fixed.js';
import { TARIFF_JSON, at } from './billing.js';

/** The fixed keys of the vectors: label -> (alg, secret, public). */
export const LEDGER_KEYS = {
  registrar: Alg.EdDSA, biller: Alg.EdDSA, custodian: Alg.ES256, legacy: Alg.EdDSA,
  'meter-1': Alg.EdDSA, 'meter-2': Alg.ES256,
  john: Alg.EdDSA, 'john-2': Alg.EdDSA, mary: Alg.ES256, superenergy: Alg.EdDSA, bob: Alg.EdDSA,
} as const;
export type KeyLabel = keyof typeof LEDGER_KEYS;
export const secretOf = (label: KeyLabel): Uint8Array => seed(`ledger/${label}`);
export const publicOf = (label: KeyLabel): Uint8Array => publicKeyOf(LEDGER_KEYS[label], secretOf(label));

export function ledgerGenesisJson(): Record<string, unknown> {
  const k = (label: KeyLabel): { alg: string; publicKey: string } => ({ alg: AlgName[LEDGER_KEYS[label]], publicKey: toHex(publicOf(label)) });
  return {
    chainId: CHAIN_ID,
    genesisTime: '2025-12-01T00:00:00Z',
    validators: [{ id: 'validator-1', alg: 'Ed25519', publicKey: toHex(publicKeyOf(Alg.EdDSA, seed('ledger/validator-1'))) }],
    operators: [
      { id: 'registrar', ...k('registrar'), roles: ['registrar'] },
      { id: 'biller', ...k('biller'), roles: ['biller'] },
      { id: 'custodian', ...k('custodian'), roles: ['custodian'] },
      // a genesis file written before roles: registrar only (§13.3)
      { id: 'legacy', ...k('legacy') },
    ],
    meters: [{ id: 'meter-1', ...k('meter-1') }, { id: 'meter-2', ...k('meter-2') }],
    currency: { code: 'EUR', minorUnits: 2 },
  };
}

/** The flat tariff of billing.json (EUR, +01:00, 4.00/day, 0.25/kWh). */
export const flatTariff = (): Tariff => tariffFromJson(TARIFF_JSON.flat);

/** The meters' committed readings: quarter-monthly, committed at heights 2..; enough for January and February 2026. */
export const LEDGER_READINGS: readonly { meterId: string; reading: IndexedReading }[] = [
  ...(['meter-1', 'meter-2'] as const).flatMap((meterId, m) => [
    ['2025-12-31T12:00:00Z', 1_000], ['2026-01-10T00:00:00Z', 91_000], ['2026-01-20T00:00:00Z', 181_000],
    ['2026-02-01T00:00:00Z', 271_000], ['2026-02-15T00:00:00Z', 341_000], ['2026-03-01T00:00:00Z', 411_000],
  ].map(([t, wh], i) => ({ meterId, reading: { seq: BigInt(i + 1), time: at(t as string), importWh: (wh as number) * (m + 1), height: 2 + i } }))),
];

/** A state in a Map, the rules, and signing with the fixed keys. */
export class LedgerHarness {
  readonly state = new Map<string, StateChange>();
  readonly index = new MemoryReadingIndex();
  readonly genesis: Genesis;
  readonly chain: LedgerChain;

  constructor(genesisJson: Record<string, unknown> = ledgerGenesisJson()) {
    this.genesis = parseGenesis(genesisJson);
    this.chain = ledgerChain(this.genesis, this.index);
    for (const m of this.genesis.meters) {
      this.put(StateKind.Meter, m.id, { alg: LEDGER_KEYS[m.id as KeyLabel], publicKey: publicOf(m.id as KeyLabel), keyEpoch: 0, revoked: false, lastSeq: 0n });
    }
    for (const r of LEDGER_READINGS) this.index.add(r.meterId, r.reading);
  }

  put(kind: string, id: string, value: unknown): void {
    this.state.set(`${kind}\u0000${id}`, { kind, id, value });
  }

  get(kind: string, id: string): unknown {
    const c = this.state.get(`${kind}\u0000${id}`);
    return c?.value ?? undefined;
  }

  /** Signed bytes: an operator (kid = its id), an owner (kid = account), or a meter (kid null: none). */
  sign(body: LedgerTxBody, signer: KeyLabel, kid: string | null = signer): Uint8Array {
    return signTx(CHAIN_ID, LEDGER_KEYS[signer], secretOf(signer), body as TxBody, kid ?? undefined);
  }

  /** Run one transaction: the records read and the changes (applied), or the refusal (nothing applied). */
  run(bytes: Uint8Array, ctx: BlockContext): { reads: { kind: string; id: string }[]; changes?: StateChange[]; error?: RejectionError } {
    const reads: { kind: string; id: string }[] = [];
    const view: StateReader = {
      get: (kind, id) => {
        if (!reads.some((r) => r.kind === kind && r.id === id)) reads.push({ kind, id });
        return this.get(kind, id);
      },
    };
    try {
      const changes = applyLedgerTx(this.chain, view, decodeAnyTx(bytes, this.genesis.params.maxTxBytes), ctx);
      for (const c of changes) this.state.set(`${c.kind}\u0000${c.id}`, c);
      return { reads, changes };
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      return { reads, error: e };
    }
  }

  /** The bill the engine computes for a meter and period from this state (what a biller submits). */
  bill(meterId: string, period: string, atHeight: number): Bill {
    const rec = this.get(StateKind.Agreement, meterId) as { entries: { from: number; tariff: string | null }[] } | undefined;
    const tariffs: Tariff[] = [];
    for (const e of rec?.entries ?? []) {
      if (e.tariff === null) continue;
      const t = this.get(StateKind.Tariff, e.tariff) as { versions: { id: string }[] };
      for (const v of t.versions) tariffs.push(tariffFromJsonById(v.id));
    }
    return computeBill({
      meterId, period, currency: this.genesis.currency!, ...(this.chain.cycle ? { cycle: this.chain.cycle } : {}), agreements: (rec?.entries ?? []).map((e) => ({ from: e.from, tariff: e.tariff })),
      tariffs, readings: LEDGER_READINGS.filter((r) => r.meterId === meterId && r.reading.height <= atHeight).map((r) => r.reading),
    });
  }
}

function tariffFromJsonById(id: string): Tariff {
  const t = Object.values(TARIFF_JSON).map((j) => tariffFromJson(j)).find((x) => x.id === id);
  if (!t) throw new Error(`vector builder: no tariff ${id}`);
  return t;
}

// ------------------------------------------------------------------------------- JSON form

/** A state value for people to read: bigints as decimal strings, bytes as hex (the CBOR is normative). */
export function readable(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(readable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, readable(x)]));
  return v;
}
const record = (kind: string, id: string, value: unknown): Record<string, unknown> => (
  value === undefined || value === null ? { kind, id, absent: true } : { kind, id, value: readable(value), cbor: toHex(encodeCbor(value)) }
);

// ----------------------------------------------------------------------------- the scenario

const T = LedgerTxType;
const DAY = 86_400_000;
const EXPIRES = at('2027-01-01T00:00:00Z');

type Body = LedgerTxBody | (() => LedgerTxBody);
interface Step { name: string; signer: KeyLabel; kid?: string | null; body: Body; ctx: BlockContext; expect?: string }

/** The steps of the vectors, in order; `expect` is the code a step must be refused with. */
function steps(h: LedgerHarness): Step[] {
  const flat = flatTariff();
  let height = 10;
  const dec = at('2025-12-20T00:00:00Z');
  const feb = at('2026-02-02T00:00:00Z');
  const mar = at('2026-03-02T00:00:00Z');
  const c = (time: number): BlockContext => ({ height: height++, time });
  const s: Step[] = [];
  const add = (name: string, signer: KeyLabel, body: Body, ctx: BlockContext, expect?: string, kid?: string | null): void => {
    s.push({ name, signer, body, ctx, ...(expect ? { expect } : {}), ...(kid !== undefined ? { kid } : {}) });
  };
  const open = (account: KeyLabel): LedgerTxBody => ({ type: T.AccountOpen, time: dec, account, alg: LEDGER_KEYS[account], publicKey: publicOf(account) });
  add('account open (Ed25519 owner key)', 'registrar', open('john'), c(dec));
  add('account open (ES256 owner key)', 'registrar', open('mary'), c(dec));
  add('account open of the payee account', 'registrar', open('superenergy'), c(dec));
  add('account open by an operator without roles in genesis (registrar)', 'legacy', open('bob'), c(dec));
  add('account open again: E_ACCOUNT_EXISTS', 'registrar', open('john'), c(dec), 'E_ACCOUNT_EXISTS');
  add('account open by a biller: E_TX_ROLE', 'biller', { type: T.AccountOpen, time: dec, account: 'carol', alg: Alg.EdDSA, publicKey: publicOf('bob') }, c(dec), 'E_TX_ROLE');
  add('account key rotation to epoch 1', 'registrar', { type: T.AccountRotate, time: dec, account: 'john', alg: Alg.EdDSA, publicKey: publicOf('john-2'), keyEpoch: 1 }, c(dec));
  add('account key rotation skipping an epoch: E_ACCOUNT_KEY_EPOCH', 'registrar', { type: T.AccountRotate, time: dec, account: 'john', alg: Alg.EdDSA, publicKey: publicOf('john'), keyEpoch: 3 }, c(dec), 'E_ACCOUNT_KEY_EPOCH');
  add('meter to account', 'registrar', { type: T.MeterAssign, time: dec, meterId: 'meter-1', account: 'john' }, c(dec));
  add('meter to account (ES256 meter)', 'registrar', { type: T.MeterAssign, time: dec, meterId: 'meter-2', account: 'mary' }, c(dec));
  add('meter to an account not open: E_ACCOUNT_UNKNOWN', 'registrar', { type: T.MeterAssign, time: dec + 1, meterId: 'meter-2', account: 'nobody' }, c(dec), 'E_ACCOUNT_UNKNOWN');
  add('deposit (ES256 custodian)', 'custodian', { type: T.Deposit, time: dec, account: 'john', amount: 20_000n, reference: 'sepa-2025-0001' }, c(dec));
  add('deposit repeating its reference: E_TRANSFER_DUPLICATE', 'custodian', { type: T.Deposit, time: dec + 1, account: 'john', amount: 20_000n, reference: 'sepa-2025-0001' }, c(dec), 'E_TRANSFER_DUPLICATE');
  add('withdrawal above the balance: E_ACCOUNT_INSUFFICIENT_FUNDS', 'custodian', { type: T.Withdrawal, time: dec, account: 'john', amount: 20_001n, reference: 'out-1' }, c(dec), 'E_ACCOUNT_INSUFFICIENT_FUNDS');
  add('withdrawal', 'custodian', { type: T.Withdrawal, time: dec, account: 'john', amount: 1_000n, reference: 'out-1' }, c(dec));
  add('tariff publication', 'biller', { type: T.TariffPublish, time: dec, tariff: flat }, c(dec));
  add('tariff publication again: E_TARIFF_DUPLICATE', 'biller', { type: T.TariffPublish, time: dec, tariff: flat }, c(dec), 'E_TARIFF_DUPLICATE');
  add('agreement', 'biller', { type: T.Agreement, time: dec, meterId: 'meter-1', from: flat.effectiveFrom, tariff: flat.tariff }, c(dec));
  add('agreement (meter-2)', 'biller', { type: T.Agreement, time: dec, meterId: 'meter-2', from: flat.effectiveFrom, tariff: flat.tariff }, c(dec));
  add('mandate (owner, rotated key), no autopay', 'john-2', {
    type: T.Mandate, time: dec, account: 'john', payee: 'superenergy', meters: ['meter-1'], capPerBill: 20_000n, capPerMonth: 30_000n, expires: EXPIRES, autopay: false,
  }, c(dec), undefined, 'john');
  add('mandate signed with the key rotated away: E_READING_BAD_SIGNATURE', 'john', {
    type: T.Mandate, time: dec + 1, account: 'john', payee: 'superenergy', meters: ['meter-1'], capPerBill: 1n, capPerMonth: 1n, expires: EXPIRES, autopay: false,
  }, c(dec), 'E_READING_BAD_SIGNATURE');
  const janBill = (meterId: string, atHeight: number): Bill => h.bill(meterId, '2026-01', atHeight);
  add('bill before its period ends: E_BILL_PERIOD_OPEN', 'biller', () => ({ type: T.Bill, time: feb, payee: 'superenergy', height: 9, bill: janBill('meter-1', 9) }), c(at('2026-01-31T12:00:00Z')), 'E_BILL_PERIOD_OPEN');
  const good = (): Bill => janBill('meter-1', 9);
  const goodTotal = (): bigint => BigInt(good().total);
  add('bill with a wrong total: E_BILL_MISMATCH', 'biller', () => ({ type: T.Bill, time: feb, payee: 'superenergy', height: 9, bill: { ...good(), total: good().total + 1 } }), c(feb), 'E_BILL_MISMATCH');
  add('bill', 'biller', () => ({ type: T.Bill, time: feb, payee: 'superenergy', height: 9, bill: good() }), c(feb));
  add('bill again: E_BILL_EXISTS', 'biller', () => ({ type: T.Bill, time: feb, payee: 'superenergy', height: 9, bill: good() }), c(feb), 'E_BILL_EXISTS');
  add('bill (meter-2)', 'biller', () => ({ type: T.Bill, time: feb, payee: 'superenergy', height: 9, bill: janBill('meter-2', 9) }), c(feb));
  add('agreement inside a billed period: E_AGREEMENT_BILLED', 'biller', { type: T.Agreement, time: feb, meterId: 'meter-1', from: at('2026-01-15T00:00:00Z'), tariff: flat.tariff }, c(feb), 'E_AGREEMENT_BILLED');
  add('payment of a wrong amount: E_PAYMENT_AMOUNT', 'meter-1', () => ({ type: T.Payment, time: feb, meterId: 'meter-1', period: '2026-01', amount: goodTotal() - 1n }), c(feb), 'E_PAYMENT_AMOUNT', null);
  add('payment signed by the meter, under the mandate', 'meter-1', () => ({ type: T.Payment, time: feb, meterId: 'meter-1', period: '2026-01', amount: goodTotal() }), c(feb), undefined, null);
  add('payment again: E_BILL_ALREADY_PAID', 'meter-1', () => ({ type: T.Payment, time: feb + 1, meterId: 'meter-1', period: '2026-01', amount: goodTotal() }), c(feb), 'E_BILL_ALREADY_PAID', null);
  const maryTotal = (): bigint => BigInt(janBill('meter-2', 9).total);
  add('payment by a meter without a mandate: E_PAYMENT_NO_MANDATE', 'meter-2', () => ({ type: T.Payment, time: feb, meterId: 'meter-2', period: '2026-01', amount: maryTotal() }), c(feb), 'E_PAYMENT_NO_MANDATE', null);
  add('payment by the owner without funds: E_PAYMENT_INSUFFICIENT_FUNDS', 'mary', () => ({ type: T.Payment, time: feb, meterId: 'meter-2', period: '2026-01', amount: maryTotal() }), c(feb), 'E_PAYMENT_INSUFFICIENT_FUNDS');
  add('deposit (mary)', 'custodian', { type: T.Deposit, time: feb, account: 'mary', amount: 50_000n, reference: 'card-7781' }, c(feb));
  add('payment by the owner (ES256 account key)', 'mary', () => ({ type: T.Payment, time: feb, meterId: 'meter-2', period: '2026-01', amount: maryTotal() }), c(feb));
  add('dispute by the owner', 'john-2', { type: T.Dispute, time: feb, meterId: 'meter-1', period: '2026-01', reason: 'the reading of 10 January looks too high', readings: [2n] }, c(feb), undefined, 'john');
  add('dispute again: E_DISPUTE_EXISTS', 'john-2', { type: T.Dispute, time: feb + 1, meterId: 'meter-1', period: '2026-01', reason: 'again', readings: [] }, c(feb), 'E_DISPUTE_EXISTS', 'john');
  add('credit note answering the dispute', 'biller', { type: T.CreditNote, time: feb, meterId: 'meter-1', period: '2026-01', amount: 500n, note: 'goodwill credit' }, c(feb + DAY));
  add('rejecting a dispute already answered: E_DISPUTE_UNKNOWN', 'biller', { type: T.DisputeReject, time: feb, meterId: 'meter-1', period: '2026-01', note: 'no' }, c(feb + DAY), 'E_DISPUTE_UNKNOWN');
  add('dispute (mary)', 'mary', { type: T.Dispute, time: feb, meterId: 'meter-2', period: '2026-01', reason: 'estimated reading', readings: [] }, c(feb + DAY));
  add('dispute rejection', 'biller', { type: T.DisputeReject, time: feb, meterId: 'meter-2', period: '2026-01', note: 'readings are the meter\'s own, signed' }, c(feb + DAY));
  add('mandate with autopay, cap per bill too low for February', 'john-2', {
    type: T.Mandate, time: feb + DAY, account: 'john', payee: 'superenergy', meters: ['meter-1'], capPerBill: 1_000n, capPerMonth: 30_000n, expires: EXPIRES, autopay: true,
  }, c(feb + DAY), undefined, 'john');
  add('bill whose autopay is refused (E_PAYMENT_CAP_EXCEEDED recorded, bill kept)', 'biller', () => ({ type: T.Bill, time: mar, payee: 'superenergy', height: 9, bill: h.bill('meter-1', '2026-02', 9) }), c(mar));
  add('mandate revocation', 'john-2', { type: T.MandateRevoke, time: mar, account: 'john', payee: 'superenergy' }, c(mar), undefined, 'john');
  add('mandate revocation again: E_MANDATE_UNKNOWN', 'john-2', { type: T.MandateRevoke, time: mar + 1, account: 'john', payee: 'superenergy' }, c(mar), 'E_MANDATE_UNKNOWN', 'john');
  add('mandate with autopay (mary)', 'mary', {
    type: T.Mandate, time: mar, account: 'mary', payee: 'superenergy', meters: ['meter-2'], capPerBill: 40_000n, capPerMonth: 40_000n, expires: EXPIRES, autopay: true,
  }, c(mar));
  add('bill paid by autopay', 'biller', () => ({ type: T.Bill, time: mar, payee: 'superenergy', height: 9, bill: h.bill('meter-2', '2026-02', 9) }), c(mar));
  return s;
}

/** The steps with their outcomes (the harness runs them in order). */
export function runLedgerScenario(): { harness: LedgerHarness; outcomes: Record<string, unknown>[] } {
  const h = new LedgerHarness();
  const outcomes: Record<string, unknown>[] = [];
  for (const st of steps(h)) {
    const body = typeof st.body === 'function' ? st.body() : st.body;
    const bytes = h.sign(body, st.signer, st.kid === undefined ? st.signer : st.kid);
    const before = new Map<string, unknown>();
    const snapshot = new Map(h.state);
    const r = h.run(bytes, st.ctx);
    for (const { kind, id } of r.reads) before.set(`${kind}\u0000${id}`, snapshot.get(`${kind}\u0000${id}`)?.value);
    const got = r.error?.code;
    if (got !== st.expect) throw new Error(`vector builder: "${st.name}" gave ${got ?? 'changes'}, expected ${st.expect ?? 'changes'}${r.error ? `: ${r.error.message}` : ''}`);
    outcomes.push({
      name: st.name, type: body.type, signer: st.signer, ctx: st.ctx, tx: toHex(bytes),
      before: r.reads.map(({ kind, id }) => record(kind, id, before.get(`${kind}\u0000${id}`))),
      ...(r.error ? { error: { code: r.error.code, ...(r.error.field ? { field: r.error.field } : {}) } } : { changes: r.changes!.map((x) => record(x.kind, x.id, x.value)) }),
    });
  }
  return { harness: h, outcomes };
}

export function buildBillingLedger(): Record<string, unknown> {
  const { harness, outcomes } = runLedgerScenario();
  return {
    chainId: CHAIN_ID,
    genesis: ledgerGenesisJson(),
    keys: Object.fromEntries(Object.entries(LEDGER_KEYS).map(([label, alg]) => [label, { alg: AlgName[alg], secretKey: toHex(secretOf(label as KeyLabel)), publicKey: toHex(publicOf(label as KeyLabel)) }])),
    initialState: [...new LedgerHarness().state.values()].map((c) => record(c.kind, c.id, c.value)),
    readings: LEDGER_READINGS.map(({ meterId, reading: r }) => ({ meterId, seq: r.seq.toString(), time: r.time, importWh: r.importWh, height: r.height })),
    steps: outcomes,
    finalState: [...harness.state.values()].sort((a, b) => (a.kind + a.id < b.kind + b.id ? -1 : 1)).map((c) => record(c.kind, c.id, c.value)),
  };
}
