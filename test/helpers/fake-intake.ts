/**
 * An in-memory IntakePort for the MQTT and XMPP bridge tests. It judges like the ledger
 * does, with protocols/ only: decodeTx, the COSE signature over Sig_structure with the
 * chain id (RFC 9052 §4.4), registration, revocation, the meter the session is for, the
 * XMPP JID a meter is bound to, strictly increasing sequence numbers. commitPending()
 * makes a real block (RFC 6962 proofs, a header, a commit certificate signed by one
 * Ed25519 validator), so what a bridge delivers verifies offline against genesis().
 */
import {
  Alg, type CommittedReading, type DroppedReading, type Genesis, type IntakePort, type MeterAuthInfo, type Reading, ReasonCode, RejectionError, type SubmitContext, type SubmitResult, isReadingTx, publicKeyOf, randomSecretKey, sha256, sigStructure, signTx, toHex, verifySignature, decodeTx, AlgName, DEFAULT_PARAMS,
} from '../../protocols/index.js';
import { commitBatch } from './test-block.js';

export interface FakeMeter {
  readonly meterId: string;
  readonly alg: Alg;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Bare JID the registration binds the meter to, if any. */
  readonly jid?: string;
  revoked: boolean;
}

export interface SubmitRecord {
  readonly bytes: Uint8Array;
  readonly ctx: SubmitContext;
  readonly result: SubmitResult;
}

const VALIDATOR_ID = 'validator-1';

export class FakeIntake implements IntakePort {
  readonly meters = new Map<string, FakeMeter>();
  readonly submitted: SubmitRecord[] = [];
  /** Accepted readings, by hex tx hash (what "in the ledger" means here). */
  readonly accepted = new Map<string, { meterId: string; seq: bigint; bytes: Uint8Array }>();
  /** Each submit waits this long before answering (to observe PUBACK ordering). */
  delayMs = 0;
  /** While true every submit answers E_GATEWAY_BUSY. */
  busy = false;
  /** Called when a submit resolves, just before the result is returned. */
  onResolved: ((r: SubmitRecord) => void) | undefined;
  private readonly lastSeq = new Map<string, bigint>();
  private readonly pending: { bytes: Uint8Array; meterId: string; seq: bigint; txHash: Uint8Array }[] = [];
  private readonly listeners = new Set<(c: CommittedReading) => void>();
  private readonly dropListeners = new Set<(d: DroppedReading) => void>();
  private readonly validatorKey = randomSecretKey(Alg.EdDSA);
  private height = 0;
  private prevHash: Uint8Array = sha256(new TextEncoder().encode('genesis'));

  constructor(readonly chainId = 'meterledger-test') {}

  addMeter(meterId: string, o: { alg?: Alg; secretKey?: Uint8Array; jid?: string } = {}): FakeMeter {
    const alg = o.alg ?? Alg.EdDSA;
    const secretKey = o.secretKey ?? randomSecretKey(alg);
    const m: FakeMeter = { meterId, alg, secretKey, publicKey: publicKeyOf(alg, secretKey), revoked: false, ...(o.jid ? { jid: o.jid } : {}) };
    this.meters.set(meterId, m);
    return m;
  }

  revoke(meterId: string): void {
    this.meters.get(meterId)!.revoked = true;
  }

  /** A signed reading of `meterId` with sequence number `seq`. */
  reading(meterId: string, seq: bigint, importWh = 1000): Uint8Array {
    const m = this.meters.get(meterId)!;
    const body: Reading = { type: 1, meterId, seq, time: Date.now(), importWh };
    return signTx(this.chainId, m.alg, m.secretKey, body);
  }

  /** A genesis naming the validator and the meters, for verifyReceipt. */
  genesis(): Genesis {
    return {
      chainId: this.chainId, genesisTime: '2025-01-01T00:00:00Z',
      validators: [{ id: VALIDATOR_ID, alg: AlgName[Alg.EdDSA], publicKey: toHex(publicKeyOf(Alg.EdDSA, this.validatorKey)), power: 1 }],
      operators: [],
      meters: [...this.meters.values()].map((m) => ({ id: m.meterId, alg: AlgName[m.alg], publicKey: toHex(m.publicKey), ...(m.jid ? { jid: m.jid } : {}) })),
      params: DEFAULT_PARAMS,
    };
  }

  meterAuth(meterId: string): MeterAuthInfo | undefined {
    const m = this.meters.get(meterId);
    return m && { meterId, alg: m.alg, publicKey: m.publicKey, revoked: m.revoked, ...(m.jid ? { jid: m.jid } : {}) };
  }

  onCommitted(listener: (c: CommittedReading) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  onDropped(listener: (d: DroppedReading) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** Drop an accepted, uncommitted reading as the ledger does when a block makes it invalid. */
  drop(meterId: string, seq: bigint, code: ReasonCode, message: string): DroppedReading | undefined {
    const i = this.pending.findIndex((p) => p.meterId === meterId && p.seq === seq);
    if (i < 0) return undefined;
    const [p] = this.pending.splice(i, 1);
    const d: DroppedReading = { meterId, seq, txHash: p!.txHash, code, message };
    for (const l of this.dropListeners) l(d);
    return d;
  }

  async submit(bytes: Uint8Array, ctx: SubmitContext): Promise<SubmitResult> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const result = this.check(bytes, ctx);
    const rec = { bytes, ctx, result };
    this.submitted.push(rec);
    this.onResolved?.(rec);
    return result;
  }

  private check(bytes: Uint8Array, ctx: SubmitContext): SubmitResult {
    const txHash = sha256(bytes);
    const reject = (code: ReasonCode, message: string, seq?: bigint): SubmitResult =>
      ({ status: 'rejected', txHash, code, message, ...(seq !== undefined ? { seq } : {}) });
    if (this.busy) return reject(ReasonCode.BUSY, 'backlog full');
    let tx;
    try {
      tx = decodeTx(bytes);
    } catch (e) {
      if (e instanceof RejectionError) return reject(e.code, e.message);
      throw e;
    }
    if (!isReadingTx(tx)) return reject(ReasonCode.SCHEMA, 'not a reading');
    const r = tx.body;
    if (r.meterId !== ctx.meterId) return reject(ReasonCode.WRONG_METER, `reading of ${r.meterId} sent by ${ctx.meterId}`, r.seq);
    const m = this.meters.get(r.meterId);
    if (!m) return reject(ReasonCode.UNKNOWN_METER, 'no such meter', r.seq);
    if (m.revoked) return reject(ReasonCode.METER_REVOKED, 'meter revoked', r.seq);
    if (ctx.transport === 'xmpp' && m.jid !== undefined && m.jid !== ctx.jid) {
      return reject(ReasonCode.WRONG_METER, `meter "${r.meterId}" may only submit from ${m.jid}`, r.seq);
    }
    if (tx.cose.alg !== m.alg) return reject(ReasonCode.BAD_ALG, 'alg differs from the meter key', r.seq);
    const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, this.chainId);
    if (!verifySignature(m.alg, m.publicKey, msg, tx.cose.signature)) return reject(ReasonCode.BAD_SIGNATURE, 'bad signature', r.seq);
    const last = this.lastSeq.get(r.meterId) ?? 0n;
    if (r.seq <= last) return reject(ReasonCode.SEQ_REPLAY, `seq ${r.seq} is not above ${last}`, r.seq);
    this.lastSeq.set(r.meterId, r.seq);
    this.accepted.set(toHex(tx.hash), { meterId: r.meterId, seq: r.seq, bytes });
    this.pending.push({ bytes, meterId: r.meterId, seq: r.seq, txHash: tx.hash });
    return { status: 'accepted', txHash: tx.hash, seq: r.seq };
  }

  /** Put every accepted reading into one block, commit it and emit onCommitted per reading. */
  commitPending(): CommittedReading[] {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return [];
    this.height++;
    const { blockHash, committed: out } = commitBatch(this.chainId, this.height, this.prevHash, VALIDATOR_ID, this.validatorKey, batch);
    this.prevHash = blockHash;
    for (const c of out) for (const l of this.listeners) l(c);
    return out;
  }
}
