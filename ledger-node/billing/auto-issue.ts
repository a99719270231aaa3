/**
 * `billing.autoIssue` (docs/billing.md §17.1): a gateway holding a biller key issues each
 * agreement's bill at period close by itself. For every meter with an agreement set by
 * this biller, the next unbilled period is computed with the pure engine over committed
 * state (readings committed at the head height, which the bill then names), signed and
 * submitted like any bill; every validator recomputes it (§17).
 *
 * Never twice: a bill is built only for a period that has no bill record in the tip state,
 * which holds the committed bills and those accepted but not yet in a block (the
 * write-ahead restores those after a restart, before this runs); and the ledger refuses a
 * second one anyway (E_BILL_EXISTS). E_BILL_NOT_READY (no reading at or after the period's
 * end committed yet) is retried with a bounded exponential backoff per meter.
 */
import {
  type Alg, type Agreement, type AgreementRecord, type Bill, type BillPeriod, type Genesis, type LedgerChain, LedgerTxType, ReasonCode,
  RejectionError, type StateReader, StateKind, type SubmitResult, type Tariff, type TariffRecord, type TariffVersionRecord, billId, chainCycle,
  computeBill, cyclePeriod, decodeKey, decodeTariff, operatorRoles, readingsForBill, resolvePeriod, signTx, termsTimeline, toHex, utcMonth,
  type BillDisclosure, type BillReading, type HpkeRecipient, type PeriodKeyBody, type PeriodKeySchedule, type SealedReading, decryptReading,
  discloseForBill, openPeriodKey,
} from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { CommittedReadings } from '../state/ledger.js';

/** What the issuer reads of the node (LedgerNode.billingView). */
export interface BillingView {
  readonly committed: StateReader;
  /** Committed state plus what was accepted and waits for a block. */
  readonly tip: StateReader;
  ids(kind: string): string[];
  head(): { height: number; time: number };
  readonly readings: Pick<CommittedReadings, 'prepareMeters' | 'between' | 'latestAtOrBefore' | 'earliestAtOrAfter'>
    & Partial<Pick<CommittedReadings, 'sealed' | 'loadSealedBodies'>>;
}

/**
 * What a biller that is a recipient of confidential meters holds (docs/billing.md §17.2):
 * its recipient key, and the period key transactions wrapped to it (collected from the
 * committed blocks by the gateway, gateway/billing.ts).
 */
export interface BillerRecipient {
  readonly id: string;
  readonly recipient: HpkeRecipient;
  /** The committed period key of `meterId` with this key id (hex), if one is known. */
  periodKey(meterId: string, keyIdHex: string): PeriodKeyBody | undefined;
}

/** What the issuer reports (gateway/metrics.ts counts it). */
export interface AutoIssueMetrics {
  /** A bill computed and submitted: accepted, or refused with its code. */
  billSubmitted(outcome: 'accepted' | ReasonCode): void;
  /** Seconds the engine took to compute one bill. */
  billComputed(seconds: number): void;
}

export interface AutoIssueOptions {
  readonly genesis: Genesis;
  /** The biller's key: its public key must be a genesis operator's with the biller role. */
  readonly key: { readonly alg: Alg; readonly secretKey: Uint8Array; readonly publicKey: Uint8Array };
  /** The account bills are paid to. */
  readonly payee: string;
  readonly view: BillingView;
  readonly submit: (bytes: Uint8Array) => Promise<SubmitResult>;
  readonly now?: () => number;
  /** First and longest wait before a meter's bill is tried again (not ready, refused), ms. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly logger: Logger;
  readonly metrics?: AutoIssueMetrics;
  /** Without it bills of confidential meters are not issued (a debug line says so). */
  readonly recipient?: BillerRecipient;
}

export const AUTO_ISSUE_DEFAULTS = { retryMinMs: 1000, retryMaxMs: 60_000 } as const;

/** The genesis operator whose key `publicKey` is, if it holds the biller role. */
export function billerOf(genesis: Genesis, publicKey: Uint8Array): string | undefined {
  const hex = toHex(publicKey);
  return genesis.operators.find((o) => decodeKey(o) && o.publicKey === hex && operatorRoles(o).includes('biller'))?.id;
}

interface Backoff {
  /** Not before this instant (ms). */
  at: number;
  waitMs: number;
  /** Waiting for a reading after the period's end (E_BILL_NOT_READY): a committed reading of the meter ends the wait. */
  notReady: boolean;
}

/** Periods one meter is billed for in one pass at most (catching up after the gateway was down). */
const MAX_PERIODS_PER_PASS = 32;

export class AutoIssuer {
  private readonly biller: string;
  private readonly now: () => number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly backoff = new Map<string, Backoff>();
  private readonly tariffs = new Map<string, Tariff>();
  /** Period keys opened (once each): meterId NUL keyId hex. */
  private readonly schedules = new Map<string, PeriodKeySchedule>();
  /** The biller's recipient key; undefined once erased (eraseRecipient). */
  private recipient: BillerRecipient | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: AutoIssueOptions) {
    const id = billerOf(opts.genesis, opts.key.publicKey);
    if (id === undefined) throw new RejectionError(ReasonCode.TX_ROLE, 'billing.autoIssue.keyFile is not the key of a genesis operator with the biller role');
    this.biller = id;
    this.recipient = opts.recipient;
    this.now = opts.now ?? Date.now;
    this.minMs = opts.retryMinMs ?? AUTO_ISSUE_DEFAULTS.retryMinMs;
    this.maxMs = opts.retryMaxMs ?? AUTO_ISSUE_DEFAULTS.retryMaxMs;
  }

  get billerId(): string {
    return this.biller;
  }

  /** Run now and then every retryMinMs (and on every poke: a block committed). */
  start(): void {
    this.timer = setInterval(() => this.poke(), this.minMs);
    this.timer.unref();
    this.poke();
  }

  /** Look again soon: one pass at a time, another right after if asked meanwhile. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((e: unknown) => this.opts.logger.error({ err: e }, 'billing autoIssue pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** A block committed readings of these meters: those waiting for one (E_BILL_NOT_READY) are tried at once. */
  readingsCommitted(meters: Iterable<string>): void {
    let any = false;
    for (const m of meters) {
      if (this.backoff.get(m)?.notReady) {
        this.backoff.delete(m);
        any = true;
      }
    }
    if (any) this.poke();
  }

  /** Stop; resolves when the pass under way is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One look at every meter this biller has an agreement with. */
  async pass(): Promise<void> {
    const { view } = this.opts;
    const now = this.now();
    for (const meterId of view.ids(StateKind.Agreement)) {
      if (this.stopped) return;
      const b = this.backoff.get(meterId);
      if (b && now < b.at) continue;
      // The tip's record: a bill accepted a moment ago moved billedUntil there, so the
      // periods a gateway that was down missed are issued one after another, not one a block.
      for (let k = 0; k < MAX_PERIODS_PER_PASS && !this.stopped; k++) {
        const rec = view.tip.get(StateKind.Agreement, meterId) as AgreementRecord | undefined;
        if (!rec || !rec.entries.some((e) => e.biller === this.biller)) break;
        if (!(await this.issueNext(meterId, rec, now))) break;
      }
    }
  }

  private retryLater(meterId: string, now: number, notReady = false): false {
    const prev = this.backoff.get(meterId);
    const waitMs = prev ? Math.min(this.maxMs, prev.waitMs * 2) : this.minMs;
    this.backoff.set(meterId, { at: now + waitMs, waitMs, notReady });
    return false;
  }

  /** Issue the meter's next bill if it is due; true when one was accepted (look for the next). */
  private async issueNext(meterId: string, rec: AgreementRecord, now: number): Promise<boolean> {
    const { view, logger } = this.opts;
    const cycle = chainCycle(this.opts.genesis);
    const agreements: Agreement[] = rec.entries.map((e) => ({ from: e.from, tariff: e.tariff }));
    const tariffs = this.tariffsOf(view.tip, rec);
    let period: BillPeriod | undefined;
    try {
      period = nextPeriod(rec, agreements, tariffs, cycle);
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      logger.debug({ meterId, code: e.code }, 'billing autoIssue: no period to bill');
      return this.retryLater(meterId, now);
    }
    // The period must be over by our clock (the block's time checks it again, §17 step 4).
    if (period.end > now) return false;
    // Issued already, or accepted and waiting for its block (restored from the write-ahead after a restart).
    if (view.tip.get(StateKind.Bill, billId(meterId, period.label)) !== undefined) return false;
    // A bill of the agreement's biller only: the entries in force in the period are ours (else another biller's).
    const inForce = rec.entries.filter((e) => e.from < period.end);
    if (inForce.length === 0 || inForce.at(-1)!.biller !== this.biller) return false;

    const confidential = (view.tip.get(StateKind.Meter, meterId) as { recipients?: unknown } | undefined)?.recipients !== undefined;
    if (confidential && (!this.recipient || !view.readings.sealed)) {
      logger.debug({ meterId }, 'billing autoIssue: a confidential meter, and no recipient key of this biller (billing.autoIssue.recipientKeyFile)');
      return false;
    }
    const release = await view.readings.prepareMeters(new Set([meterId]));
    let bill: Bill;
    let height: number;
    let disclosures: BillDisclosure[] | undefined;
    try {
      height = view.head().height;
      let sealed: { bodies: SealedReading[]; keys: PeriodKeySchedule[] } | undefined;
      let readings: readonly BillReading[];
      if (confidential) {
        sealed = await this.openSealed(meterId, period, height);
        readings = sealed.bodies.map((r, i) => {
          const v = decryptReading(this.opts.genesis.chainId, sealed!.keys[i]!, r);
          return { seq: v.seq, time: v.time, importWh: v.importWh, ...(v.exportWh !== undefined ? { exportWh: v.exportWh } : {}) };
        });
      } else readings = readingsForBill(view.readings as LedgerChain['readings'], meterId, period, height);
      const t0 = performance.now();
      bill = computeBill({
        meterId, period: period.label, currency: this.opts.genesis.currency!, agreements, tariffs, readings, ...(cycle ? { cycle } : {}),
      });
      this.opts.metrics?.billComputed((performance.now() - t0) / 1000);
      // §17.2: disclose exactly the readings the bill names, with their content keys.
      if (sealed) disclosures = discloseForBill(this.opts.genesis.chainId, sealed.keys, sealed.bodies, bill.readings);
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      if (e.code !== ReasonCode.BILL_NOT_READY) logger.warn({ meterId, period: period.label, code: e.code, reason: e.message }, 'billing autoIssue: bill cannot be computed');
      else logger.debug({ meterId, period: period.label }, 'billing autoIssue: period not ready (no reading after its end committed yet)');
      if (e.code !== ReasonCode.BILL_NOT_READY) this.opts.metrics?.billSubmitted(e.code);
      return this.retryLater(meterId, now, e.code === ReasonCode.BILL_NOT_READY);
    } finally {
      release();
    }
    const bytes = signTx(this.opts.genesis.chainId, this.opts.key.alg, this.opts.key.secretKey, {
      type: LedgerTxType.Bill, time: this.now(), payee: this.opts.payee, height, bill, ...(disclosures ? { disclosures } : {}),
    }, this.biller);
    const r = await this.opts.submit(bytes);
    if (r.status === 'accepted' || r.code === ReasonCode.BILL_EXISTS) {
      this.backoff.delete(meterId);
      if (r.status === 'accepted') {
        this.opts.metrics?.billSubmitted('accepted');
        logger.info({ meterId, period: period.label, total: bill.total, height }, 'billing autoIssue: bill issued');
      }
      return r.status === 'accepted';
    }
    this.opts.metrics?.billSubmitted(r.code);
    logger.warn({ meterId, period: period.label, code: r.code, reason: r.message }, 'billing autoIssue: bill refused; retrying later');
    return this.retryLater(meterId, now);
  }

  /**
   * The committed sealed readings of the bill's range (as the rule takes it, billing.md
   * §17.2) with their bodies, each with the period key that opens it. A reading under a
   * period key this biller does not hold yet is E_CONF_UNKNOWN_KEY (tried again later).
   */
  private async openSealed(meterId: string, period: BillPeriod, height: number): Promise<{ bodies: SealedReading[]; keys: PeriodKeySchedule[] }> {
    const s = this.opts.view.readings.sealed!;
    const from = s.latestAtOrBefore(meterId, period.start, height)?.time ?? 0;
    const to = s.earliestAtOrAfter(meterId, period.end, height)?.time ?? period.end;
    const entries = s.entries(meterId, from, to, height);
    await this.opts.view.readings.loadSealedBodies?.(meterId, entries.map((e) => e.seq));
    const bodies: SealedReading[] = [];
    const keys: PeriodKeySchedule[] = [];
    for (const e of entries) {
      const r = s.reading(meterId, e.seq, height);
      if (!r) throw new RejectionError(ReasonCode.BILL_NOT_READY, `the body of sealed reading ${e.seq} of "${meterId}" is not loaded`, 'readings');
      bodies.push(r);
      keys.push(await this.scheduleOf(meterId, r.sealed.keyId));
    }
    return { bodies, keys };
  }

  /**
   * Erase the biller's recipient key `id` from this issuer (docs/protocol.md §11.8): the key
   * and every period key opened with it are dropped, and confidential meters are billed no
   * more (as without billing.autoIssue.recipientKeyFile). `held` is false when this issuer
   * holds no such key (another id, or erased before); `dropped` counts the period keys.
   */
  eraseRecipient(id: string): { held: boolean; dropped: number } {
    if (this.recipient?.id !== id) return { held: false, dropped: 0 };
    this.recipient = undefined;
    const dropped = this.schedules.size;
    this.schedules.clear();
    this.opts.logger.warn({ recipientKey: id, dropped }, 'billing autoIssue: recipient key erased; confidential meters are not billed any more');
    return { held: true, dropped };
  }

  private async scheduleOf(meterId: string, keyId: Uint8Array): Promise<PeriodKeySchedule> {
    const k = `${meterId}\u0000${toHex(keyId)}`;
    let sch = this.schedules.get(k);
    if (!sch) {
      const me = this.recipient;
      if (!me) throw new RejectionError(ReasonCode.CONF_NOT_RECIPIENT, `the biller's recipient key was erased: period key ${toHex(keyId)} of "${meterId}" is not opened`, 'kidContext');
      const body = me.periodKey(meterId, toHex(keyId));
      if (!body) throw new RejectionError(ReasonCode.CONF_UNKNOWN_KEY, `period key ${toHex(keyId)} of "${meterId}" is not known to this biller yet`, 'kidContext');
      sch = await openPeriodKey(this.opts.genesis.chainId, body, me.id, me.recipient);
      if (this.recipient !== me) throw new RejectionError(ReasonCode.CONF_NOT_RECIPIENT, 'the biller\'s recipient key was erased meanwhile', 'kidContext');
      this.schedules.set(k, sch);
    }
    return sch;
  }

  private tariffsOf(state: StateReader, rec: AgreementRecord): Tariff[] {
    const out: Tariff[] = [];
    for (const name of new Set(rec.entries.flatMap((e) => (e.tariff === null ? [] : [e.tariff])))) {
      const t = state.get(StateKind.Tariff, name) as TariffRecord | undefined;
      for (const v of t?.versions ?? []) {
        // Content-addressed: a decoded version never changes.
        let t = this.tariffs.get(v.id);
        const vr = t ? undefined : (state.get(StateKind.TariffVersion, v.id) as TariffVersionRecord | undefined);
        if (vr) this.tariffs.set(v.id, (t = decodeTariff(vr.bytes)));
        if (t) out.push(t);
      }
    }
    return out;
  }
}

/**
 * The first period of the meter not billed yet: the one starting at `billedUntil`, or for
 * a meter never billed the one containing its first agreement's start. On a chain with a
 * cycle rule, cycles; else calendar months in the tariff's local time (§5.1).
 */
export function nextPeriod(rec: AgreementRecord, agreements: readonly Agreement[], tariffs: readonly Tariff[], cycle?: { epoch: number; lengthMs: number }): BillPeriod {
  const first = rec.entries[0]?.from;
  if (first === undefined) throw new RejectionError(ReasonCode.BILL_NO_AGREEMENT, 'the meter has no agreement', 'agreements');
  const from = rec.billedUntil > 0 ? rec.billedUntil : first;
  if (cycle) {
    const n = Math.max(0, Math.floor((from - cycle.epoch) / cycle.lengthMs));
    return cyclePeriod(cycle, n);
  }
  const timeline = termsTimeline(agreements, tariffs);
  // The month containing `from` (or the one after: a local month can start before the UTC one).
  for (const t of [from - 2 * 86_400_000, from, from + 2 * 86_400_000]) {
    const p = resolvePeriod(utcMonth(t), timeline);
    if (p.end > from && p.start >= rec.billedUntil) return p;
  }
  throw new RejectionError(ReasonCode.BILL_PERIOD_INVALID, `no month after ${from} to bill`, 'period');
}
