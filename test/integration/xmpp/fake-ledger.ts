/**
 * An in-memory IntakePort for the XMPP bridge tests. It judges like the ledger does, with
 * protocols/ only: decodeTx, the COSE signature over Sig_structure with the chain id
 * (RFC 9052 §4.4), registration and revocation, the meter attribute against the reading's
 * meter, the XMPP JID a meter is bound to, and strictly increasing sequence numbers.
 * commit() makes a real block: RFC 6962 proofs, a header, a commit certificate signed by
 * one Ed25519 validator over voteSignBytes, so receipts verify offline with genesis().
 */
import {
  Alg, AlgName, type CommittedReading, DEFAULT_PARAMS, type Genesis, type IntakePort, type MeterAuthInfo, type Reading, ReasonCode, RejectionError, type SubmitContext, type SubmitResult, decodeTx, isReadingTx, publicKeyOf, randomSecretKey, sha256, sigStructure, signTx, toHex, verifySignature,
} from '../../../protocols/index.js';
import { commitBatch } from '../../helpers/test-block.js';

export interface LedgerMeter {
  readonly meterId: string;
  readonly alg: Alg;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Bare JID the registration binds the meter to, if any. */
  readonly jid?: string;
}

export interface Submission {
  readonly ctx: SubmitContext;
  readonly result: SubmitResult;
}

const VALIDATOR = 'validator-1';

export class FakeLedger implements IntakePort {
  readonly meters = new Map<string, LedgerMeter>();
  readonly submissions: Submission[] = [];
  /** Durably accepted readings, by hex tx hash (what "in the ledger" means here). */
  readonly accepted = new Map<string, { meterId: string; seq: bigint; bytes: Uint8Array }>();
  /** Each submit waits this long before deciding ("be slow"). */
  delayMs = 0;
  private readonly lastSeq = new Map<string, bigint>();
  private uncommitted: { meterId: string; seq: bigint; bytes: Uint8Array; txHash: Uint8Array }[] = [];
  private readonly listeners = new Set<(c: CommittedReading) => void>();
  private readonly validatorKey = randomSecretKey(Alg.EdDSA);
  private height = 0;
  private prevHash: Uint8Array = sha256(new TextEncoder().encode('genesis'));

  constructor(readonly chainId = 'meterledger-xmpp-test') {}

  addMeter(meterId: string, jid?: string, alg: Alg = Alg.EdDSA): LedgerMeter {
    const secretKey = randomSecretKey(alg);
    const m: LedgerMeter = { meterId, alg, secretKey, publicKey: publicKeyOf(alg, secretKey), ...(jid ? { jid } : {}) };
    this.meters.set(meterId, m);
    return m;
  }

  /** A reading of `meterId` signed with its key. */
  reading(meterId: string, seq: bigint, importWh = 1000 + Number(seq)): Uint8Array {
    const m = this.meters.get(meterId)!;
    const body: Reading = { type: 1, meterId, seq, time: Date.now(), importWh };
    return signTx(this.chainId, m.alg, m.secretKey, body);
  }

  genesis(): Genesis {
    return {
      chainId: this.chainId, genesisTime: '2025-01-01T00:00:00Z',
      validators: [{ id: VALIDATOR, alg: AlgName[Alg.EdDSA], publicKey: toHex(publicKeyOf(Alg.EdDSA, this.validatorKey)), power: 1 }],
      operators: [],
      meters: [...this.meters.values()].map((m) => ({ id: m.meterId, alg: AlgName[m.alg], publicKey: toHex(m.publicKey), ...(m.jid ? { jid: m.jid } : {}) })),
      params: DEFAULT_PARAMS,
    };
  }

  meterAuth(meterId: string): MeterAuthInfo | undefined {
    const m = this.meters.get(meterId);
    return m && { meterId, alg: m.alg, publicKey: m.publicKey, revoked: false, ...(m.jid ? { jid: m.jid } : {}) };
  }

  onCommitted(listener: (c: CommittedReading) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  async submit(bytes: Uint8Array, ctx: SubmitContext): Promise<SubmitResult> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const result = this.judge(bytes, ctx);
    this.submissions.push({ ctx, result });
    return result;
  }

  private judge(bytes: Uint8Array, ctx: SubmitContext): SubmitResult {
    const txHash = sha256(bytes);
    const refuse = (code: ReasonCode, message: string, seq?: bigint): SubmitResult =>
      ({ status: 'rejected', txHash, code, message, ...(seq !== undefined ? { seq } : {}) });
    let tx;
    try {
      tx = decodeTx(bytes);
    } catch (e) {
      if (e instanceof RejectionError) return refuse(e.code, e.message);
      throw e;
    }
    if (!isReadingTx(tx)) return refuse(ReasonCode.SCHEMA, 'only readings are taken from devices');
    const r = tx.body;
    if (r.meterId !== ctx.meterId) return refuse(ReasonCode.WRONG_METER, `reading of "${r.meterId}" sent as "${ctx.meterId}"`, r.seq);
    const m = this.meters.get(r.meterId);
    if (!m) return refuse(ReasonCode.UNKNOWN_METER, `no meter "${r.meterId}"`, r.seq);
    if (ctx.transport === 'xmpp' && m.jid !== undefined && m.jid !== ctx.jid) {
      return refuse(ReasonCode.WRONG_METER, `meter "${r.meterId}" may only submit from ${m.jid}`, r.seq);
    }
    if (tx.cose.alg !== m.alg) return refuse(ReasonCode.BAD_ALG, 'alg differs from the meter key', r.seq);
    if (!verifySignature(m.alg, m.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, this.chainId), tx.cose.signature)) {
      return refuse(ReasonCode.BAD_SIGNATURE, 'signature does not verify with the registered key', r.seq);
    }
    const last = this.lastSeq.get(r.meterId) ?? 0n;
    if (r.seq <= last) return refuse(ReasonCode.SEQ_REPLAY, `seq ${r.seq} is not above ${last}`, r.seq);
    this.lastSeq.set(r.meterId, r.seq);
    this.accepted.set(toHex(tx.hash), { meterId: r.meterId, seq: r.seq, bytes });
    this.uncommitted.push({ meterId: r.meterId, seq: r.seq, bytes, txHash: tx.hash });
    return { status: 'accepted', txHash: tx.hash, seq: r.seq };
  }

  /** Put every accepted, uncommitted reading into one block and tell the listeners. */
  commit(): CommittedReading[] {
    const batch = this.uncommitted;
    this.uncommitted = [];
    if (batch.length === 0) return [];
    this.height++;
    const { blockHash, committed: out } = commitBatch(this.chainId, this.height, this.prevHash, VALIDATOR, this.validatorKey, batch);
    this.prevHash = blockHash;
    for (const c of out) for (const l of this.listeners) l(c);
    return out;
  }
}
