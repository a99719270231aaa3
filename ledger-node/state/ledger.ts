/**
 * The ledger's transactions 6-19 (docs/billing.md §13-21) on the node: the pure rules of
 * protocols/billing/ledger.ts, with two ports filled in.
 *
 * Signatures: the node's registry (./rules.ts) names the key each transaction must be
 * signed with (`ledgerSigner`, the same lookup as the rule's), and the caller checks it on
 * the verify worker pool, off the main thread, with every other signature of the block.
 * The rule's own check is then given a verifier that only asks whether the rule wants that
 * same key: no curve arithmetic runs inline on the main thread (noble on the event loop
 * took ~1.3 ms an Ed25519 check, docs/performance.md, more than recomputing a bill), and
 * a rule that would want another key than the one the pool checked refuses the
 * transaction (E_READING_BAD_SIGNATURE), never accepts it.
 *
 * Readings: the bill rule reads a synchronous ReadingIndex filtered by height; the store's
 * index is async. `CommittedReadings` holds, in memory, the committed readings of the
 * meters that bills name: loaded from the store (`prepare`, awaited by every path before it
 * applies a bill) and kept current as blocks commit (`add`). What a bill sees is fixed by
 * the bill's `height` (readings committed at or below it), so every validator, the audit
 * and a restarted node compute the same bill whatever else they hold.
 */
import {
  type Alg, type BillReading, type SealedReading, type LedgerChain, type LedgerOperator, LedgerTxType, MemoryReadingIndex, type Reading, type ReadingIndex, RejectionError, ReasonCode, type SignedTx,
  StateKind, type StateReader, type TxBody, billId, equalBytes, isLedgerTxBody, txMeterId, MemorySealedReadingIndex, type SealedEntry, type SealedReadingIndex,
  TxType, decodeAnyTx, decodeBlock, ProtocolError,
} from '../../protocols/index.js';
import type { IndexedReading, LedgerStore } from '../store/store.js';
import type { Signer } from './meter.js';

const OPERATOR_ROLE: Readonly<Partial<Record<number, 'registrar' | 'biller' | 'custodian'>>> = {
  [LedgerTxType.AccountOpen]: 'registrar', [LedgerTxType.AccountRotate]: 'registrar', [LedgerTxType.MeterAssign]: 'registrar',
  [LedgerTxType.Deposit]: 'custodian', [LedgerTxType.Withdrawal]: 'custodian',
  [LedgerTxType.TariffPublish]: 'biller', [LedgerTxType.Agreement]: 'biller', [LedgerTxType.Bill]: 'biller',
  [LedgerTxType.CreditNote]: 'biller', [LedgerTxType.DisputeReject]: 'biller',
};

const keyOf = (v: unknown): Signer | undefined => {
  const r = v as { alg?: Alg; publicKey?: Uint8Array } | undefined;
  return r?.alg !== undefined && r.publicKey !== undefined ? { alg: r.alg, publicKey: r.publicKey } : undefined;
};

/**
 * The key a transaction of type 6-19 must be signed with (docs/billing.md §13.3), looked
 * up as the rule looks it up; undefined when there is none (no such operator, account,
 * meter or bill): the rule then refuses it with its own code, in its own order.
 */
export function ledgerSigner(state: StateReader, operators: ReadonlyMap<string, LedgerOperator>, tx: SignedTx<TxBody>): Signer | undefined {
  const b = tx.body;
  if (!isLedgerTxBody(b)) return undefined;
  const kid = tx.cose.kid;
  const role = OPERATOR_ROLE[b.type];
  if (role !== undefined) {
    const op = kid === undefined ? undefined : operators.get(kid);
    // Else the rule says why (E_TX_NOT_OPERATOR, E_TX_ROLE).
    return op?.roles.includes(role) ? { alg: op.alg, publicKey: op.publicKey } : undefined;
  }
  if (b.type === LedgerTxType.Payment && kid === undefined) return keyOf(state.get(StateKind.Meter, b.meterId));
  if (kid === undefined) return undefined;
  // Mandate, revocation: the owner of the account named; payment by the owner, dispute:
  // the owner of the bill's account. The rule checks kid is that account.
  if (b.type === LedgerTxType.Payment || b.type === LedgerTxType.Dispute) {
    const bill = state.get(StateKind.Bill, billId(b.meterId, b.period)) as { account?: string } | undefined;
    if (bill?.account !== kid) return undefined;
  }
  return keyOf(state.get(StateKind.Account, kid));
}

/**
 * The verifier the pure rule is given: true when the rule asks for `signer`'s key, whose
 * signature over this transaction the caller checked on the worker pool.
 */
export function checkedBy(signer: Signer | undefined): NonNullable<LedgerChain['verify']> {
  return (alg, publicKey) => signer !== undefined && alg === signer.alg && equalBytes(publicKey, signer.publicKey);
}

/** The meter a transaction is about, if any (protocols' txMeterId). */
export const txMeter = txMeterId;

/**
 * An index entry with its registers: a sealed reading's has none, and a bill of a
 * confidential meter takes its values from its disclosures (§11.7), never from the index.
 */
const isClearEntry = (r: IndexedReading): r is IndexedReading & { readonly importWh: number } => r.importWh !== undefined;

/** A reading of the node's index with its meter. */
type Committed = IndexedReading & { readonly meterId: string };

/** The index entry of a committed reading, leaf `index` of block `height` (the store's and this cache's). */
export function indexEntry(r: Reading | SealedReading, height: number, index: number): Committed {
  // A sealed reading is indexed by identity and time only: its values are nobody's to store.
  if ('sealed' in r) return { meterId: r.meterId, seq: r.seq, height, index, time: r.time };
  return { meterId: r.meterId, seq: r.seq, height, index, time: r.time, importWh: r.importWh, ...(r.exportWh !== undefined ? { exportWh: r.exportWh } : {}) };
}

/** The meter a bill transaction names, if `tx` is one. */
export function billMeter(tx: SignedTx<TxBody>): string | undefined {
  return tx.body.type === LedgerTxType.Bill ? tx.body.bill.meterId : undefined;
}

/**
 * The committed readings of the meters bills name, in memory (protocols'
 * MemoryReadingIndex): the ReadingIndex of the bill rule over the node's store. A meter
 * not prepared is an error of the caller (every path awaits `prepare` for the bills it is
 * about to apply), never a refusal. A meter is held while a path uses it (`prepare`
 * until its release) or a bill naming it waits in the mempool (`keepOnly` after each
 * block): memory is bounded by what waits, and each bill reads its meter's index once.
 */
export class CommittedReadings implements ReadingIndex {
  private readonly index = new MemoryReadingIndex();
  /**
   * Sealed readings (docs/billing.md §17.2): the clear fields of all, the bodies of those a
   * bill discloses (loaded from their blocks by `prepare`) or that a block just committed.
   */
  private readonly sealedIndex = new MemorySealedReadingIndex();
  /** Where each sealed reading is, to load its body: meter -> seq -> (height, index). */
  private readonly sealedAt = new Map<string, Map<bigint, { height: number; index: number }>>();
  /** Meters whose readings are all here. */
  private readonly held = new Set<string>();
  /** Meters being loaded, with what blocks committed meanwhile. */
  private readonly loading = new Map<string, { done: Promise<void>; added: (IndexedReading & { reading?: SealedReading })[] }>();

  /**
   * `store`: where readings are loaded from. Without one (the audit, replaying blocks from
   * genesis) every meter's readings are held, from what `add` is given.
   */
  constructor(private readonly store?: Pick<LedgerStore, 'readingHistory'> & Partial<Pick<LedgerStore, 'blockBytes'>>) {}

  /** The sealed readings' view of the bill rule (protocols' SealedReadingIndex). */
  readonly sealed: SealedReadingIndex = {
    entries: (m, from, to, h) => (this.check(m), this.sealedIndex.entries(m, from, to, h)),
    latestAtOrBefore: (m, t, h) => (this.check(m), this.sealedIndex.latestAtOrBefore(m, t, h)),
    earliestAtOrAfter: (m, t, h) => (this.check(m), this.sealedIndex.earliestAtOrAfter(m, t, h)),
    reading: (m, seq, h) => (this.check(m), this.sealedIndex.reading(m, seq, h)),
  };

  /** Uses of each meter under way (prepare to release). */
  private readonly pins = new Map<string, number>();

  /**
   * Load the committed readings of every meter that a bill among `txs` names, and hold
   * them until the returned release is called (call it once the bills are applied).
   */
  async prepare(txs: Iterable<SignedTx<TxBody>>): Promise<() => void> {
    const meters = new Set<string>();
    const disclosed: { meterId: string; seqs: bigint[] }[] = [];
    for (const tx of txs) {
      const m = billMeter(tx);
      if (m !== undefined) meters.add(m);
      if (tx.body.type === LedgerTxType.Bill && tx.body.disclosures) disclosed.push({ meterId: tx.body.bill.meterId, seqs: tx.body.disclosures.map((d) => d.seq) });
    }
    const release = await this.prepareMeters(meters);
    try {
      for (const d of disclosed) await this.loadSealed(d.meterId, d.seqs);
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /**
   * The bodies of sealed readings of a prepared meter, from their blocks (each block read
   * once): what a bill discloses, or what its biller opens to compute it (../billing/auto-issue.ts).
   */
  loadSealedBodies(meterId: string, seqs: readonly bigint[]): Promise<void> {
    return this.loadSealed(meterId, seqs);
  }

  /** The bodies of sealed readings a bill discloses, from their blocks (each block read once). */
  private async loadSealed(meterId: string, seqs: readonly bigint[]): Promise<void> {
    if (!this.store?.blockBytes) return;
    const at = this.sealedAt.get(meterId);
    const byHeight = new Map<number, { seq: bigint; index: number }[]>();
    for (const seq of this.sealedIndex.missing(meterId, seqs)) {
      const p = at?.get(seq);
      if (p) byHeight.set(p.height, [...(byHeight.get(p.height) ?? []), { seq, index: p.index }]);
    }
    for (const [height, want] of byHeight) {
      const bytes = await this.store.blockBytes(height);
      if (!bytes) throw new ProtocolError('E_STORE_CORRUPT', `block ${height} holding sealed readings of "${meterId}" is missing`);
      const block = decodeBlock(bytes);
      for (const w of want) {
        const tx = decodeAnyTx(block.txs[w.index]!, Infinity);
        if (tx.body.type === TxType.Reading && 'sealed' in tx.body && tx.body.seq === w.seq) this.sealedIndex.setReading(meterId, tx.body);
      }
    }
  }

  /** As prepare, for meters named directly (a biller computing a bill: ../billing/auto-issue.ts). */
  async prepareMeters(meters: ReadonlySet<string>): Promise<() => void> {
    if (!this.store || meters.size === 0) return () => {};
    for (const m of meters) this.pins.set(m, (this.pins.get(m) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const m of meters) {
        const n = (this.pins.get(m) ?? 1) - 1;
        if (n > 0) this.pins.set(m, n);
        else this.pins.delete(m);
      }
    };
    try {
      await Promise.all([...meters].filter((m) => !this.held.has(m)).map((m) => this.load(m)));
    } catch (e) {
      release();
      throw e;
    }
    return release;
  }

  /** Forget every meter but those in `keep` (the meters of waiting bills) and those in use. */
  keepOnly(keep: ReadonlySet<string>): void {
    if (!this.store) return;
    for (const m of [...this.held]) {
      if (keep.has(m) || this.pins.has(m)) continue;
      this.held.delete(m);
      this.index.delete(m);
      this.sealedIndex.delete(m);
      this.sealedAt.delete(m);
    }
  }

  /** Meters whose readings are held now (for tests and metrics). */
  get size(): number {
    return this.held.size;
  }

  private load(meterId: string): Promise<void> {
    const cur = this.loading.get(meterId);
    if (cur) return cur.done;
    const added: (IndexedReading & { reading?: SealedReading })[] = [];
    const done = (async () => {
      // The meter's reading history (store J, one value per block per day): one range read,
      // in (day, height) order, so the in-memory index mostly appends.
      const rows = await this.store!.readingHistory(meterId);
      for (const r of rows) this.addEntry(meterId, r);
      // A block committed while loading is in what was read or in `added`: each once.
      if (added.length) {
        const seqs = new Set(rows.map((r) => r.seq));
        for (const r of added) if (!seqs.has(r.seq)) this.addEntry(meterId, r);
      }
      this.held.add(meterId);
    })().finally(() => this.loading.delete(meterId));
    this.loading.set(meterId, { done, added });
    return done;
  }

  private addEntry(meterId: string, r: IndexedReading & { readonly reading?: SealedReading }): void {
    if (isClearEntry(r)) {
      this.index.add(meterId, r);
      return;
    }
    this.sealedIndex.add(meterId, { seq: r.seq, time: r.time, height: r.height, ...(r.reading ? { reading: r.reading } : {}) });
    const at = this.sealedAt.get(meterId) ?? new Map<bigint, { height: number; index: number }>();
    at.set(r.seq, { height: r.height, index: r.index });
    this.sealedAt.set(meterId, at);
  }

  /**
   * A block committed these readings: kept for the meters held (and those loading). With
   * `txs`, the block's decoded transactions, a sealed reading's body is kept too.
   */
  add(readings: readonly Committed[], txs?: readonly SignedTx<TxBody>[]): void {
    for (const { meterId, ...entry } of readings) {
      let e: IndexedReading & { reading?: SealedReading } = entry;
      if (!isClearEntry(entry)) {
        const body = txs?.[entry.index]?.body;
        if (body?.type === TxType.Reading && 'sealed' in body) e = { ...entry, reading: body };
      }
      const loading = this.loading.get(meterId);
      if (loading) loading.added.push(e);
      else if (this.held.has(meterId) || !this.store) this.addEntry(meterId, e);
    }
  }

  private check(meterId: string): void {
    // Not a RejectionError: a bill refused for this would be refused on this node only.
    if (this.store && !this.held.has(meterId)) throw new Error(`readings of meter "${meterId}" were not prepared before its bill`);
  }

  between(meterId: string, from: number, to: number, atHeight: number): readonly BillReading[] {
    this.check(meterId);
    return this.index.between(meterId, from, to, atHeight);
  }

  latestAtOrBefore(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined {
    this.check(meterId);
    return this.index.latestAtOrBefore(meterId, t, atHeight, withExport);
  }

  earliestAtOrAfter(meterId: string, t: number, atHeight: number, withExport: boolean): BillReading | undefined {
    this.check(meterId);
    return this.index.earliestAtOrAfter(meterId, t, atHeight, withExport);
  }
}

/** A ledger transaction on a node without the ledger's context. */
export function ledgerOff(tx: SignedTx<TxBody>): never {
  throw new RejectionError(ReasonCode.SCHEMA, `transaction type ${String(tx.body.type)} has no rule on this node`, 'type');
}
