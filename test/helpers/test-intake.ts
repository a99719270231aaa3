/**
 * The real intake (ledger-node/intake.ts) of a lone validator over the memory store, for
 * the bridge tests: what a bridge hears back is what the ledger answers, not a second
 * copy of its rules. Meters are in genesis (their keys here, to sign readings and connect
 * tokens); revoke() goes through an operator's MeterRevoke like any other.
 *
 * Test hooks, each wrapping the real intake, none judging a reading itself:
 * - `delayMs`: a slow intake; each submission waits this long before it reaches the intake.
 * - `onResolved`: told of each answer just before the bridge gets it.
 * - `busy`: a full backlog on demand. While set, a submission does not reach the intake
 *   and is answered E_GATEWAY_BUSY, as the intake answers when its backlog is full (a
 *   lone validator cutting a block every few ms cannot be held full otherwise). This is
 *   the one answer the intake does not make.
 * - `holdCommitted`: a slow block as the bridges see it. While set, committed events are
 *   held back from the bridges (the ledger commits as usual); `commitPending()` waits until
 *   everything accepted is committed and then hands them over, in order.
 * - `drop()`: tells the bridges that an accepted reading was dropped, through the intake's
 *   own emitDropped, as the chain writer does when a block makes it invalid.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Alg, AlgName, type CommittedReading, type DroppedReading, type Genesis, type IntakePort, type MeterAuthInfo, type SubmitContext,
  type SubmitResult, ReasonCode, TxType, parseGenesis, sha256, publicKeyOf, randomSecretKey, signTx, toHex,
} from '../../protocols/index.js';
import { initDevChain } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { LedgerNode } from '../../ledger-node/node.js';
import { inMemory } from './memory-store.js';
import { until } from './until.js';

export interface TestMeter {
  readonly meterId: string;
  readonly alg: Alg;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Bare JID the registration binds the meter to, if any. */
  readonly jid?: string;
}

/** What signs a connect token: the chain and a meter's key. */
export interface MeterKeys {
  readonly chainId: string;
  readonly meters: ReadonlyMap<string, { readonly alg: Alg; readonly secretKey: Uint8Array }>;
}

export interface SubmitRecord {
  readonly bytes: Uint8Array;
  readonly ctx: SubmitContext;
  readonly result: SubmitResult;
}

export type MeterSpec = string | { readonly id: string; readonly alg?: Alg; readonly jid?: string; readonly secretKey?: Uint8Array };

export interface TestIntakeOptions {
  readonly blockIntervalMs?: number;
  readonly meterRatePerSecond?: number;
  readonly meterBurst?: number;
}

export class TestIntake implements IntakePort {
  readonly submitted: SubmitRecord[] = [];
  readonly committed: CommittedReading[] = [];
  /** Each submission waits this long before it reaches the intake (a slow intake). */
  delayMs = 0;
  /** While true, submissions are answered E_GATEWAY_BUSY without reaching the intake (a full backlog). */
  busy = false;
  /** Called when a submission is answered, just before the answer is returned. */
  onResolved: ((r: SubmitRecord) => void) | undefined;
  /** While true, committed events wait in `held` until commitPending(). */
  holdCommitted = false;
  private readonly listeners = new Set<(c: CommittedReading) => void>();
  private readonly held: { listener: (c: CommittedReading) => void; c: CommittedReading }[] = [];

  private constructor(
    readonly node: LedgerNode,
    readonly meters: ReadonlyMap<string, TestMeter>,
    private readonly operator: { id: string; alg: Alg; secretKey: Uint8Array },
    private readonly dir: string,
  ) {
    node.intake.onCommitted((c) => this.committed.push(c));
  }

  /** A lone validator whose genesis registers `meters` (Ed25519 unless named). */
  static async open(meters: readonly MeterSpec[], o: TestIntakeOptions = {}): Promise<TestIntake> {
    const dir = mkdtempSync(join(tmpdir(), 'ml-intake-'));
    const dataDir = join(dir, 'data');
    const dev = initDevChain(dataDir, { meters: 0 });
    const keys = new Map<string, TestMeter>();
    for (const spec of meters) {
      const s = typeof spec === 'string' ? { id: spec } : spec;
      const alg = s.alg ?? Alg.EdDSA;
      const secretKey = s.secretKey ?? randomSecretKey(alg);
      keys.set(s.id, { meterId: s.id, alg, secretKey, publicKey: publicKeyOf(alg, secretKey), ...(s.jid ? { jid: s.jid } : {}) });
    }
    const genesis: Genesis = parseGenesis({
      ...dev.genesis,
      meters: [...keys.values()].map((m) => ({ id: m.meterId, alg: AlgName[m.alg], publicKey: toHex(m.publicKey), ...(m.jid ? { jid: m.jid } : {}) })),
    });
    const op = loadKeyFile(dataPaths(dataDir).operatorKey);
    const node = await LedgerNode.open({ openStore: inMemory, dataDir, genesis, blockIntervalMs: o.blockIntervalMs ?? 20, verifyWorkers: 0,
      ...(o.meterRatePerSecond !== undefined ? { meterRatePerSecond: o.meterRatePerSecond } : {}),
      ...(o.meterBurst !== undefined ? { meterBurst: o.meterBurst } : {}),
    });
    return new TestIntake(node, keys, { id: genesis.operators[0]!.id, alg: op.alg, secretKey: op.secretKey }, dir);
  }

  /** What the intake accepted through this port, by hex tx hash. */
  get accepted(): Map<string, { meterId: string; seq: bigint; bytes: Uint8Array }> {
    const out = new Map<string, { meterId: string; seq: bigint; bytes: Uint8Array }>();
    for (const s of this.submitted) if (s.result.status === 'accepted') out.set(toHex(s.result.txHash), { meterId: s.ctx.meterId, seq: s.result.seq, bytes: s.bytes });
    return out;
  }

  get chainId(): string {
    return this.node.genesis.chainId;
  }

  genesis(): Genesis {
    return this.node.genesis;
  }

  /** A signed reading of `meterId` with sequence number `seq`, dated now. */
  reading(meterId: string, seq: bigint, importWh = 1000): Uint8Array {
    const m = this.meters.get(meterId)!;
    return signTx(this.chainId, m.alg, m.secretKey, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh });
  }

  async submit(bytes: Uint8Array, ctx: SubmitContext): Promise<SubmitResult> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const result: SubmitResult = this.busy
      ? { status: 'rejected', txHash: sha256(bytes), code: ReasonCode.BUSY, message: 'backlog full; retry later' }
      : await this.node.intake.submit(bytes, ctx);
    const rec = { bytes, ctx, result };
    this.submitted.push(rec);
    this.onResolved?.(rec);
    return result;
  }

  meterAuth(meterId: string): MeterAuthInfo | undefined {
    return this.node.intake.meterAuth(meterId);
  }

  onCommitted(listener: (c: CommittedReading) => void): () => void {
    this.listeners.add(listener);
    const off = this.node.intake.onCommitted((c) => {
      if (this.holdCommitted) this.held.push({ listener, c });
      else listener(c);
    });
    return () => {
      this.listeners.delete(listener);
      off();
    };
  }

  /** Receipt listeners registered through this port (a bridge that stopped leaves none). */
  listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * Tell the bridges that the accepted reading (meterId, seq) was dropped, through the
   * intake's emitDropped as the chain writer does; undefined if it was never accepted.
   */
  drop(meterId: string, seq: bigint, code: ReasonCode, message: string): DroppedReading | undefined {
    const rec = this.submitted.find((s) => s.ctx.meterId === meterId && s.result.status === 'accepted' && s.result.seq === seq);
    if (!rec) return undefined;
    const d: DroppedReading = { meterId, seq, txHash: rec.result.txHash, code, message };
    this.node.intake.emitDropped(d);
    return d;
  }

  onDropped(listener: (d: DroppedReading) => void): () => void {
    return this.node.intake.onDropped(listener);
  }

  /** Revoke a meter (an operator's MeterRevoke, type 4) and wait until the intake refuses it. */
  async revoke(meterId: string): Promise<void> {
    const tx = signTx(this.chainId, this.operator.alg, this.operator.secretKey, { type: TxType.MeterRevoke, meterId, time: Date.now() }, this.operator.id);
    const r = await this.node.submitTx(tx);
    if (r.status !== 'accepted') throw new Error(`revoking ${meterId}: ${r.code} ${r.message}`);
    await until(`${meterId} revoked`, () => this.meterAuth(meterId)?.revoked === true, 10_000);
  }

  /**
   * Wait until everything accepted is committed, then hand the committed events held back
   * (holdCommitted) to the bridges that are still listening, in order.
   */
  async commitPending(): Promise<void> {
    const key = (meterId: string, seq: bigint): string => `${meterId}\u0000${seq}`;
    await until('every accepted reading committed', () => {
      const done = new Set(this.committed.map((c) => key(c.meterId, c.seq)));
      return this.submitted.every((s) => s.result.status !== 'accepted' || done.has(key(s.ctx.meterId, s.result.seq)));
    }, 20_000);
    await new Promise((r) => setImmediate(r)); // a retransmission's event goes out on the next turn
    for (const { listener, c } of this.held.splice(0)) if (this.listeners.has(listener)) listener(c);
  }

  /** Wait until everything accepted is in a block. */
  async allCommitted(): Promise<void> {
    await until('everything accepted is committed', () => this.node.status().pending === 0, 20_000);
  }

  async close(): Promise<void> {
    await this.node.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
