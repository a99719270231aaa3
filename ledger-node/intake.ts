/**
 * Intake: the IntakePort the bridges call. Checks in order of cost (size and schema,
 * meter and time, backlog, state rules (state/rules.ts), then the signature in the worker
 * pool), applies the transaction to the tip, and resolves only after the write-ahead
 * is synced. Per meter, transactions are applied in the order they arrived.
 */
import {
  type BlockContext,
  type Alg, type CommittedReading, type DroppedReading, type IntakePort, type MeterAuthInfo, type Reading, type ReadingWindow, ReasonCode,
  RejectionError, type SignedTx, type TxBody, type SubmitContext, type SubmitResult, TxType, decodeAnyTx, equalBytes, isAnyReadingTx,
  sameReading, sha256, PERIOD_KEY_TX_TYPE, checkNonceReuse, type SealedReading, StateKind,
} from '../protocols/index.js';
import type { Logger } from './api.js';
import { AwaitingKey, type AwaitingKeyLimits } from './awaiting-key.js';
import { DropFeed, type DroppedTx } from './drops.js';
import type { Mempool } from './mempool.js';
import type { NodeMetrics } from './metrics.js';
import type { MeterRateLimiter } from './ratelimit.js';
import type { ChainState } from './state/layers.js';
import { periodKeyRecordId } from './state/confidential.js';
import { txMeter } from './state/ledger.js';
import { type Operators, checkReadingTime } from './state/meter.js';
import { applyTx, requiredSigner } from './state/rules.js';
import { type TxContext, verifyTxSignature } from './signatures.js';
import { probe } from './latency-probe.js';

/**
 * Decode a device's transactions in the verify workers (the default). `MLBENCH_INTAKE_DECODE=main`
 * decodes them on the main thread as before: the benchmark's before/after switch (docs/performance.md).
 */
// Not METERLEDGER_*: the configuration refuses variables it does not know, and this is no setting.
const DECODE_IN_WORKERS = process.env.MLBENCH_INTAKE_DECODE !== 'main';

/** A device's signature, checked in a worker with the key its meter had then. */
interface Presigned {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
  readonly ok: boolean;
}

/** The type of what a submission decoded to, filled in by process(): which metrics count it. */
interface DecodedType {
  type?: number;
}

export interface IntakeOptions {
  readonly chainId: string;
  readonly maxTxBytes: number;
  /** Where a device's reading time must lie around our clock; inside the block rule's window (txctx.window). */
  readonly window: ReadingWindow;
  readonly maxBacklog: number;
  readonly now: () => number;
  readonly rateLimiter: MeterRateLimiter;
  /** The per-meter bound on readings relayed by observers (docs/protocol.md §3.5). */
  readonly relayRateLimiter: MeterRateLimiter;
  /**
   * The reading committed as the same reading as `tx` (ledger-node/blocks/receipts.ts), with
   * its receipt; with `anyBytes`, whatever reading was committed for its (meter, seq).
   */
  readonly committed: (tx: SignedTx<Reading | SealedReading>, anyBytes?: boolean) => Promise<CommittedReading | undefined>;
  /** The block an accepted transaction would go into, as the rules see it: the next height, our clock. */
  readonly nextBlock: () => BlockContext;
  /** Bounds of the relayed sealed readings held for their period key (./awaiting-key.ts). */
  readonly awaitingKey?: AwaitingKeyLimits;
}

export class Intake implements IntakePort {
  readonly chainId: string;
  private readonly listeners = new Set<(c: CommittedReading) => void>();
  private readonly readingDrops: DropFeed<DroppedReading>;
  private readonly txDrops: DropFeed<DroppedTx>;
  /** Per-meter tail of the apply chain: keeps one meter's transactions in arrival order. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private closed = false;
  /** Told of every transaction accepted from a device or the API (not from peers): gossip. */
  onAccepted: ((tx: SignedTx<TxBody>) => void) | undefined;
  private inflight = 0;
  private idle: (() => void) | undefined;
  /** Peers' sealed readings that came before their period key (docs/protocol.md §11.6). */
  private readonly awaiting: AwaitingKey;

  constructor(
    private readonly opts: IntakeOptions,
    private readonly state: ChainState,
    private readonly operators: Operators,
    private readonly mempool: Mempool,
    private readonly txctx: TxContext,
    private readonly metrics: NodeMetrics,
    private readonly logger: Logger,
  ) {
    this.chainId = opts.chainId;
    this.awaiting = new AwaitingKey(opts.awaitingKey);
    this.readingDrops = new DropFeed(logger);
    this.txDrops = new DropFeed(logger);
  }

  /** Sealed readings held for their period key now (tests, metrics). */
  get awaitingKeyCount(): number {
    return this.awaiting.size;
  }

  /** A block committed these state changes: readings held for a period key among them are taken again. */
  periodKeysCommitted(changes: readonly { kind: string; id: string }[]): void {
    for (const c of changes) if (c.kind === StateKind.PeriodKey) this.awaiting.release(c.id);
  }

  meterAuth(meterId: string): MeterAuthInfo | undefined {
    const m = this.state.meter(meterId);
    if (!m) return undefined;
    return { meterId, alg: m.alg, publicKey: m.publicKey, revoked: m.revoked, ...(m.jid !== undefined ? { jid: m.jid } : {}) };
  }

  onCommitted(listener: (c: CommittedReading) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops found before any bridge listened (write-ahead recovery at start-up) go to the first one. */
  onDropped(listener: (d: DroppedReading) => void): () => void {
    return this.readingDrops.on(listener);
  }

  /** An accepted reading was dropped before its commit: tell the bridges (or keep it for the first one). */
  emitDropped(d: DroppedReading): void {
    this.readingDrops.emit(d);
  }

  /** Accepted operator and ledger transactions dropped before their commit (billing: payments to the bills topics). */
  onDroppedTx(listener: (d: DroppedTx) => void): () => void {
    return this.txDrops.on(listener);
  }

  /** An accepted transaction other than a reading was dropped before its commit. */
  emitDroppedTx(d: DroppedTx): void {
    this.txDrops.emit(d);
  }

  /** Called by the chain writer for each committed reading. */
  emitCommitted(c: CommittedReading): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch (e) {
        this.logger.error({ err: e }, 'receipt listener failed');
      }
    }
  }

  async submit(bytes: Uint8Array, ctx: SubmitContext): Promise<SubmitResult> {
    const t0 = performance.now();
    const decoded: DecodedType = {};
    this.inflight++;
    let result: SubmitResult;
    try {
      result = await this.process(bytes, ctx, t0, decoded);
    } catch (e) {
      result = this.refusal(bytes, e);
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
    probe?.add(`intake.submit.${result.status}`, performance.now() - t0);
    // Readings (plain or sealed, type 1) in the readings metrics; bytes that did not decode
    // count as what their channel carries: a device's readings topic carries readings.
    const onReadingsTopic = ctx.transport !== 'http' && ctx.transport !== 'peer' && ctx.purpose === undefined;
    if (decoded.type === undefined ? onReadingsTopic : decoded.type === TxType.Reading) this.countReading(ctx, result, t0);
    else {
      this.metrics.transactionSubmitted(decoded.type, result.status === 'accepted' ? 'accepted' : result.code);
      if (result.status === 'rejected') this.logger.debug({ meterId: ctx.meterId, type: decoded.type, code: result.code, reason: result.message }, 'transaction rejected');
    }
    return result;
  }

  private countReading(ctx: SubmitContext, result: SubmitResult, t0: number): void {
    this.metrics.readingReceived(ctx.transport);
    if (result.status === 'accepted') {
      this.metrics.readingAccepted();
      this.metrics.acceptLatency((performance.now() - t0) / 1000);
    } else {
      this.metrics.readingRejected(result.code);
      this.logger.debug({ meterId: ctx.meterId, code: result.code, reason: result.message }, 'reading rejected');
    }
  }

  private refusal(bytes: Uint8Array, e: unknown, tx?: SignedTx<TxBody>): SubmitResult {
    const txHash = tx?.hash ?? sha256(bytes);
    const seq = tx?.body.type === TxType.Reading ? tx.body.seq : undefined;
    if (e instanceof RejectionError) {
      return { status: 'rejected', txHash, code: e.code, message: e.message, ...(seq !== undefined ? { seq } : {}) };
    }
    // Anything else is our trouble (disk full, store closed): the meter should retry.
    this.logger.warn({ err: e }, 'intake could not accept');
    return { status: 'rejected', txHash, code: ReasonCode.BUSY, message: `gateway cannot accept now: ${(e as Error).message}`, ...(seq !== undefined ? { seq } : {}) };
  }

  private async process(bytes: Uint8Array, ctx: SubmitContext, receivedAt: number, decoded: DecodedType): Promise<SubmitResult> {
    if (this.closed) throw new RejectionError(ReasonCode.BUSY, 'gateway is shutting down');
    // A device sends nothing above maxTxBytes (only tariffs and bills may be larger, and
    // they come from billers through the API or peers): refused before any decoding.
    if (ctx.transport !== 'http' && ctx.transport !== 'peer' && bytes.length > this.opts.maxTxBytes) {
      throw new RejectionError(ReasonCode.TOO_LARGE, `transaction of ${bytes.length} bytes exceeds ${this.opts.maxTxBytes}`);
    }
    // Every type, each under its own size limit (docs/billing.md §13.2). A device's bytes
    // are decoded in a verify worker, a reading's (clear or sealed) signature checked there
    // with its meter's key (ledger-node/crypto/tx-worker.ts); what the worker does not
    // answer (a period key), and every refusal, is decoded here, so each meter gets the
    // same error as before.
    let tx: SignedTx<TxBody> | undefined;
    let presigned: Presigned | undefined;
    if (DECODE_IN_WORKERS && ctx.transport !== 'http' && ctx.transport !== 'peer' && ctx.purpose === undefined) {
      const m = this.state.meter(ctx.meterId);
      const tv = performance.now();
      const r = await this.txctx.verifier.checkReading(bytes, this.txctx.chainId, this.opts.maxTxBytes, m?.alg, m?.publicKey);
      probe?.add('intake.verifyWorker', performance.now() - tv);
      tx = r.tx;
      if (r.tx && m && r.signatureOk !== undefined) presigned = { alg: m.alg, publicKey: m.publicKey, ok: r.signatureOk };
    }
    tx ??= decodeAnyTx(bytes, this.opts.maxTxBytes);
    decoded.type = tx.body.type;
    let release: (() => void) | undefined;
    try {
      // A bill is checked against the committed readings of its meter (state/ledger.ts),
      // held until it is in the mempool (where ChainWriter keeps them) or refused.
      release = await this.txctx.bills?.prepare([tx]);
      return await this.check(tx, ctx, receivedAt, false, presigned);
    } catch (e) {
      return this.refusal(bytes, e, tx);
    } finally {
      release?.();
    }
  }

  private async check(tx: SignedTx<TxBody>, ctx: SubmitContext, receivedAt: number, waited = false, presigned?: Presigned): Promise<SubmitResult> {
    const b = tx.body;
    const seq = b.type === TxType.Reading ? b.seq : 0n;
    // The same bytes again (a retransmission, or gossip of what we hold): already durable.
    if (this.mempool.has(tx.hashHex)) return { status: 'accepted', txHash: tx.hash, seq };
    const fromPeer = ctx.transport === 'peer';
    const device = ctx.transport !== 'http' && !fromPeer;
    if (device && ctx.purpose === 'payment') {
      // A meter paying its bill under a mandate (docs/billing.md §19.3): signed by the meter itself, no kid.
      if (b.type !== TxType.Payment || tx.cose.kid !== undefined) throw new RejectionError(ReasonCode.SCHEMA, 'only a payment (type 16) signed by the meter, without kid, is taken on the payments topic', 'type');
      if (b.meterId !== ctx.meterId) throw new RejectionError(ReasonCode.WRONG_METER, `payment of "${b.meterId}" sent as "${ctx.meterId}"`, 'meterId');
      if (!this.opts.rateLimiter.take(b.meterId)) throw new RejectionError(ReasonCode.RATE_LIMITED, `meter "${b.meterId}" sends faster than its allowed rate; retry later`);
    } else if (b.type !== TxType.Reading && b.type !== PERIOD_KEY_TX_TYPE) {
      // What a meter signs itself on its readings topic: its readings and its period keys (docs/protocol.md §11.6).
      if (device) throw new RejectionError(ReasonCode.SCHEMA, 'only readings and period keys are taken from devices on their readings topic; operator transactions go to the HTTP API', 'type');
    } else if (!fromPeer) {
      if (ctx.transport !== 'http' && b.meterId !== ctx.meterId) {
        throw new RejectionError(ReasonCode.WRONG_METER, `reading of "${b.meterId}" sent as "${ctx.meterId}"`, 'meterId');
      }
      const bound = this.state.meter(b.meterId)?.jid;
      if (ctx.transport === 'xmpp' && bound !== undefined && bound !== ctx.jid) {
        throw new RejectionError(ReasonCode.WRONG_METER, `meter "${b.meterId}" may only submit from ${bound}`, 'jid');
      }
      if (ctx.transport !== 'http' && !this.opts.rateLimiter.take(b.meterId)) {
        throw new RejectionError(ReasonCode.RATE_LIMITED, `meter "${b.meterId}" sends faster than its allowed rate; retry later`);
      }
      checkReadingTime(this.opts.window, tx, this.opts.now(), 'this gateway\'s time');
    } else {
      // Relayed by an observer (docs/protocol.md §3.5): bounded per meter like a device's
      // own (an honest relay stays within it), and held to the block rule's window on our
      // clock, so that what we take is what a block may hold.
      if (!this.opts.relayRateLimiter.take(b.meterId)) {
        throw new RejectionError(ReasonCode.RATE_LIMITED, `readings of meter "${b.meterId}" are relayed faster than allowed`);
      }
      checkReadingTime(this.txctx.window, tx, this.opts.now(), 'this gateway\'s time');
    }
    if (this.mempool.size >= this.opts.maxBacklog) {
      throw new RejectionError(ReasonCode.BUSY, `backlog of ${this.mempool.size} transactions is full; retry later`);
    }
    // Cheap checks against the tip first, so floods of replays cost no signature check on
    // this thread (a device's is checked in a worker beforehand, as any fresh reading's is).
    const signer = requiredSigner(this.state, this.operators, tx, { chain: this.txctx, height: this.opts.nextBlock().height });
    try {
      applyTx(this.state, tx, this.opts.nextBlock(), this.txctx);
    } catch (e) {
      if (e instanceof RejectionError && e.code === ReasonCode.SEQ_REPLAY && isAnyReadingTx(tx) && signer !== undefined && (await this.isRetransmission(tx, signer, !fromPeer))) {
        return { status: 'accepted', txHash: tx.hash, seq };
      }
      if (e instanceof RejectionError && e.code === ReasonCode.CONF_UNKNOWN_KEY && !waited) return this.awaitKey(tx as SignedTx<SealedReading>, ctx, receivedAt, e, presigned);
      throw e;
    }
    // The worker's answer holds for the key the rules require now, else it is checked again.
    const verified = presigned && signer && signer.alg === presigned.alg && equalBytes(signer.publicKey, presigned.publicKey)
      ? Promise.resolve(this.presignedAnswer(tx, signer.publicKey, presigned.ok))
      : verifyTxSignature(this.txctx, signer, tx);

    // In order per meter; the ledger's other transactions (accounts, money) in one order of their own.
    const id = txMeter(b) ?? '\u0000ledger';
    const prev = this.chains.get(id);
    const applied = (async () => {
      if (prev) await prev;
      if (!(await verified)) throw new RejectionError(ReasonCode.BAD_SIGNATURE, 'signature does not verify with the registered key', 'signature');
      // The tip may have moved while we verified: check again against it.
      const now = requiredSigner(this.state, this.operators, tx, { chain: this.txctx, height: this.opts.nextBlock().height });
      if (!now || !signer || !equalBytes(now.publicKey, signer.publicKey)) throw new RejectionError(ReasonCode.BAD_SIGNATURE, 'the signer\'s key was rotated', 'signature');
      this.state.accept(applyTx(this.state, tx, this.opts.nextBlock(), this.txctx));
      if (b.type === PERIOD_KEY_TX_TYPE) this.awaiting.release(periodKeyRecordId(b.meterId, b.keyId));
      // Staged in order now; wrapped so that the chain does not wait for the disk.
      return { durable: this.mempool.add(tx, receivedAt) };
    })();
    const tail = applied.then(() => undefined, () => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    const ta = performance.now();
    const { durable } = await applied;
    const td = performance.now();
    await durable;
    probe?.add('intake.inOrderApply', td - ta);
    probe?.add('intake.durableWait', performance.now() - td);
    if (!fromPeer) this.onAccepted?.(tx);
    return { status: 'accepted', txHash: tx.hash, seq };
  }

  /** verifyTxSignature's answer from the worker's: a valid signature goes into the cache alike. */
  private presignedAnswer(tx: SignedTx<TxBody>, publicKey: Uint8Array, ok: boolean): boolean {
    if (ok) this.txctx.cache?.add(tx, publicKey);
    return ok;
  }

  /**
   * docs/protocol.md §3.8: the reading we hold or committed as (meter, seq), sent again (a
   * PUBACK lost on the way) as the same bytes or as a twin with a valid signature, is
   * accepted again and changes nothing. If it is committed, its committed event goes out
   * again (the bridges publish it: receipts topic, XMPP receipt), after this answer.
   */
  private async isRetransmission(tx: SignedTx<Reading | SealedReading>, signer: { alg: Alg; publicKey: Uint8Array }, tell: boolean): Promise<boolean> {
    const { meterId, seq } = tx.body;
    const signed = async (other: Uint8Array): Promise<boolean> => equalBytes(other, tx.bytes) || verifyTxSignature(this.txctx, signer, tx);
    const waiting = this.mempool.reading(meterId, seq);
    if (waiting) {
      checkSealedReuse(waiting, tx);
      return sameReading(waiting, tx) && signed(waiting.bytes);
    }
    let c: CommittedReading | undefined;
    if ('sealed' in tx.body) {
      c = await this.opts.committed(tx, true);
      const other = c && decodeAnyTx(c.receipt.tx, Infinity);
      if (other) checkSealedReuse(other, tx);
      if (other && !sameReading(other, tx)) c = undefined;
    } else {
      c = await this.opts.committed(tx);
    }
    if (!c || !(await signed(c.receipt.tx))) return false;
    if (tell) setImmediate(() => this.emitCommitted(c));
    return true;
  }

  /**
   * A sealed reading whose period key is not at our tip (docs/protocol.md §11.6 "Order of
   * arrival"). Its meter's key may be on its way through this intake (sent just before,
   * its signature being checked): then wait for that, for any sender. From a peer the key
   * may also come later, by gossip or in a block: the reading is held (bounded) until then.
   * A device is answered at once otherwise: it keeps its readings and sends them again.
   */
  private async awaitKey(tx: SignedTx<SealedReading>, ctx: SubmitContext, receivedAt: number, refused: RejectionError, presigned?: Presigned): Promise<SubmitResult> {
    const b = tx.body;
    if (ctx.transport !== 'peer') {
      const inFlight = this.chains.get(b.meterId);
      if (!inFlight) throw refused;
      await inFlight;
      // The worker's answer still holds if the key the rules require then is the one it checked.
      return this.check(tx, ctx, receivedAt, true, presigned);
    }
    return new Promise<SubmitResult>((resolve, reject) => {
      const held = this.awaiting.hold(
        periodKeyRecordId(b.meterId, b.sealed.keyId),
        () => this.check(tx, ctx, receivedAt, true).then(resolve, reject),
        () => reject(refused),
      );
      if (!held) reject(refused);
    });
  }

  /** Refuse new submissions and wait for those under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.awaiting.expireAll();
    if (this.inflight > 0) await new Promise<void>((r) => (this.idle = r));
  }
}

/**
 * docs/protocol.md §11.5: a sealed reading sent for a (meter, seq) already held, with the
 * same key commitment and IV but other bytes, reuses a GCM nonce (E_CONF_NONCE_REUSED),
 * found without a key. Only on the replay path: the hot path never compares.
 */
function checkSealedReuse(earlier: SignedTx<TxBody>, later: SignedTx<Reading | SealedReading>): void {
  if ('sealed' in later.body && earlier.body.type === TxType.Reading && 'sealed' in earlier.body) checkNonceReuse(earlier.body, later.body);
}
