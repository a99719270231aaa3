/**
 * Money in the consensus simulation (issue #12, "a Byzantine proposer that includes a
 * wrong bill gets it refused"): each honest validator holds a ledger state of its own (the
 * billing vector's harness: John's account funded, a flat tariff, meter-1's agreement, the
 * January readings) and checks every block's signed ledger transactions with the real
 * rules (protocols/billing/ledger.ts applyLedgerTx: the bill recomputed by the engine),
 * applying them when the block commits. Honest proposers include January's bill, then
 * John's payment of it; the Byzantine validator's invalid blocks carry a bill signed by
 * the biller whose total is one cent too high (its signature verifies: only recomputing
 * it shows the lie).
 */
import {
  type BlockContext, LedgerTxType, RejectionError, type StateChange, StateKind, type StateReader, applyLedgerTx, billId, decodeAnyTx, equalBytes, toHex,
} from '../../protocols/index.js';
import { LEDGER_KEYS, LedgerHarness, flatTariff, publicOf } from '../vectors/billing-ledger.js';

const at = (iso: string): number => Date.parse(iso);
const DEC_20 = at('2025-12-20T00:00:00Z');
const FEB_2 = at('2026-02-02T00:00:00Z');
/** The bill was computed at height 9 of the vector's reading index; every block is checked as a block after it, in February. */
const ctxOf = (simHeight: number): BlockContext => ({ height: 10 + simHeight, time: FEB_2 });
const COSE_SIGN1_TAG = 0xd2;

/** Refusals of ledger transactions by honest validators, by reason code (shared by the run). */
export type Refusals = Map<string, number>;

export class SimLedgerNode {
  private readonly h = fundedHarness();

  constructor(private readonly story: SimLedger) {}

  /** Ledger transactions (COSE_Sign1 bytes) in a block; the sim's text transactions are not. */
  private static ledgerTxs(txs: readonly Uint8Array[]): Uint8Array[] {
    return txs.filter((t) => t[0] === COSE_SIGN1_TAG);
  }

  /** Apply `txs` in order over `state`; the first refusal's code, or undefined when all apply. */
  private apply(state: Map<string, StateChange>, txs: readonly Uint8Array[], height: number): string | undefined {
    const view: StateReader = { get: (kind, id) => state.get(`${kind}\u0000${id}`)?.value };
    for (const t of txs) {
      try {
        const changes = applyLedgerTx(this.h.chain, view, decodeAnyTx(t, 65536), ctxOf(height));
        for (const c of changes) state.set(`${c.kind}\u0000${c.id}`, c);
      } catch (e) {
        if (!(e instanceof RejectionError)) throw e;
        return e.code;
      }
    }
    return undefined;
  }

  /** What this validator proposes at `height`: the bill until it is committed, then the payment, then nothing. */
  propose(): Uint8Array[] {
    if (this.h.get(StateKind.Bill, billId('meter-1', '2026-01')) === undefined) return [this.story.goodBill];
    if (this.h.get(StateKind.Payment, billId('meter-1', '2026-01')) === undefined) return [this.story.payment];
    return [];
  }

  /** The block's ledger transactions all pass the rules on this state (nothing applied). */
  valid(txs: readonly Uint8Array[], height: number): boolean {
    const code = this.apply(new Map(this.h.state), SimLedgerNode.ledgerTxs(txs), height);
    if (code !== undefined) this.story.refusals.set(code, (this.story.refusals.get(code) ?? 0) + 1);
    return code === undefined;
  }

  /** Apply a committed block's ledger transactions (a refused one, which an honest check never lets through, is skipped: the validity invariant names its block). */
  committed(txs: readonly Uint8Array[], height: number): void {
    for (const t of SimLedgerNode.ledgerTxs(txs)) this.apply(this.h.state, [t], height);
  }

  /** The accounts' balances, the bill's and the payment's records: what every honest validator must agree on. */
  digest(): string {
    const rec = (kind: string, id: string): unknown => this.h.get(kind, id);
    return JSON.stringify({
      john: rec(StateKind.Account, 'john'), superenergy: rec(StateKind.Account, 'superenergy'),
      bill: rec(StateKind.Bill, billId('meter-1', '2026-01')), payment: rec(StateKind.Payment, billId('meter-1', '2026-01')),
    }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v));
  }

  balance(account: string): bigint | undefined {
    return (this.h.get(StateKind.Account, account) as { balance: bigint } | undefined)?.balance;
  }
}

/** The vector's harness with what January's bill needs: John's funded account, the payee's, meter-1's flat agreement. */
function fundedHarness(): LedgerHarness {
  const h = new LedgerHarness();
  const flat = flatTariff();
  let height = 1;
  const run = (bytes: Uint8Array): void => {
    const r = h.run(bytes, { height: height++, time: DEC_20 });
    if (r.error) throw new Error(`sim ledger set-up refused: ${r.error.code} ${r.error.message}`);
  };
  for (const account of ['john', 'superenergy'] as const) {
    run(h.sign({ type: LedgerTxType.AccountOpen, time: DEC_20, account, alg: LEDGER_KEYS[account], publicKey: publicOf(account) }, 'registrar'));
  }
  run(h.sign({ type: LedgerTxType.MeterAssign, time: DEC_20, meterId: 'meter-1', account: 'john' }, 'registrar'));
  run(h.sign({ type: LedgerTxType.Deposit, time: DEC_20, account: 'john', amount: 20_000n, reference: 'sim-1' }, 'custodian'));
  run(h.sign({ type: LedgerTxType.TariffPublish, time: DEC_20, tariff: flat }, 'biller'));
  run(h.sign({ type: LedgerTxType.Agreement, time: DEC_20, meterId: 'meter-1', from: flat.effectiveFrom, tariff: flat.tariff }, 'biller'));
  return h;
}

/** The story's transactions, signed once, and the refusals seen. */
export class SimLedger {
  readonly goodBill: Uint8Array;
  readonly wrongBill: Uint8Array;
  readonly payment: Uint8Array;
  readonly total: bigint;
  readonly refusals: Refusals = new Map();

  constructor() {
    const h = fundedHarness();
    const bill = h.bill('meter-1', '2026-01', 9);
    this.total = BigInt(bill.total);
    this.goodBill = h.sign({ type: LedgerTxType.Bill, time: FEB_2, payee: 'superenergy', height: 9, bill }, 'biller');
    this.wrongBill = h.sign({ type: LedgerTxType.Bill, time: FEB_2, payee: 'superenergy', height: 9, bill: { ...bill, total: bill.total + 1 } }, 'biller');
    this.payment = h.sign({ type: LedgerTxType.Payment, time: FEB_2, meterId: 'meter-1', period: '2026-01', amount: this.total }, 'john');
  }

  node(): SimLedgerNode {
    return new SimLedgerNode(this);
  }

  isWrong(tx: Uint8Array): boolean {
    return equalBytes(tx, this.wrongBill);
  }
}
