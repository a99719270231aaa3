/**
 * Checking a block's transactions against the registry: the one place where block
 * validity is decided, for proposals, for blocks fetched by sync, and for the audit
 * (and selectTxs, which picks a proposal's transactions by the same rules).
 * Signers are found and rules applied in order (a rotation changes the key of what
 * follows); the signature checks of a block all go to the worker pool at once.
 */
import { type Alg, ReasonCode, type ReadingWindow, RejectionError, type SignedTx, TxType, decodeTx, equalBytes, sigStructure } from '../protocols/index.js';
import type { SignatureVerifier } from './crypto/verifier.js';
import { type MeterLookup, type MeterRecord, type Operators, applyTx, checkReadingTime, readingTimeProblem, requiredSigner } from './rules.js';

export class InvalidTxError extends Error {
  override readonly name = 'InvalidTxError';
  constructor(readonly index: number, readonly reason: string, readonly code: ReasonCode) {
    super(`transaction ${index}: ${reason}`);
  }
}

/**
 * Signatures already checked, by transaction hash and the key that checked them:
 * a reading gossiped by a peer and then proposed in a block is verified once per node.
 * The key is held as the registry's own bytes (no copy, no hex string per entry).
 */
export class SignatureCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly max = 200_000) {}
  has(tx: SignedTx, publicKey: Uint8Array): boolean {
    const k = this.map.get(tx.hashHex);
    return k !== undefined && (k === publicKey || equalBytes(k, publicKey));
  }
  add(tx: SignedTx, publicKey: Uint8Array): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(tx.hashHex, publicKey);
  }
}

export interface TxContext {
  readonly chainId: string;
  readonly maxTxBytes: number;
  /** The block rule on reading times (genesis params, readingWindow()). */
  readonly window: ReadingWindow;
  /** The anti-replay window of each meter (genesis params, seqWindowOf()). */
  readonly seqWindow: number;
  readonly operators: Operators;
  readonly verifier: SignatureVerifier;
  readonly cache?: SignatureCache;
}

/** Verify one transaction's signature with `signer`, through the cache. */
export async function verifyTxSignature(ctx: TxContext, signer: { alg: Alg; publicKey: Uint8Array }, tx: SignedTx): Promise<boolean> {
  if (ctx.cache?.has(tx, signer.publicKey)) return true;
  const ok = await ctx.verifier.verify(signer.alg, signer.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, ctx.chainId), tx.cose.signature);
  if (ok) ctx.cache?.add(tx, signer.publicKey);
  return ok;
}

/**
 * Check `txs` of a block whose header time is `blockTime`, in order on top of `base`.
 * Returns them decoded with the registry records they change; throws InvalidTxError
 * naming the first bad one.
 */
export async function checkTxs(ctx: TxContext, base: MeterLookup, txs: readonly Uint8Array[], blockTime: number): Promise<{ decoded: SignedTx[]; changed: Map<string, MeterRecord> }> {
  const changed = new Map<string, MeterRecord>();
  const view: MeterLookup = { meter: (id) => changed.get(id) ?? base.meter(id) };
  const decoded: SignedTx[] = [];
  const checks: Promise<boolean>[] = [];
  txs.forEach((bytes, i) => {
    try {
      const tx = decodeTx(bytes, ctx.maxTxBytes);
      checkReadingTime(ctx.window, tx, blockTime);
      const signer = requiredSigner(view, ctx.operators, tx);
      checks.push(verifyTxSignature(ctx, signer, tx));
      const { meterId, next } = applyTx(view, tx, ctx.seqWindow);
      changed.set(meterId, next);
      decoded.push(tx);
    } catch (e) {
      throw new InvalidTxError(i, (e as Error).message, e instanceof RejectionError ? e.code : ReasonCode.MALFORMED);
    }
  });
  const oks = await Promise.all(checks);
  const bad = oks.indexOf(false);
  if (bad >= 0) throw new InvalidTxError(bad, `${ReasonCode.BAD_SIGNATURE}: signature does not verify`, ReasonCode.BAD_SIGNATURE);
  return { decoded, changed };
}

/**
 * A proposal's transactions: of `waiting` (signatures checked at intake), in order, those
 * valid on `base` in a block of time `blockTime`, at most `max`. A reading too new for this
 * block holds back its meter's later ones (they would take its seq); one too old, or made
 * invalid by a peer's block, is left out (the chain writer drops it after the next block).
 */
export function selectTxs(ctx: TxContext, base: MeterLookup, waiting: Iterable<SignedTx>, blockTime: number, max: number): { decoded: SignedTx[]; changed: Map<string, MeterRecord> } {
  const changed = new Map<string, MeterRecord>();
  const view: MeterLookup = { meter: (id) => changed.get(id) ?? base.meter(id) };
  const decoded: SignedTx[] = [];
  const held = new Set<string>();
  for (const tx of waiting) {
    if (decoded.length >= max) break;
    if (held.has(tx.body.meterId)) continue;
    const time = readingTimeProblem(ctx.window, tx, blockTime);
    if (time === 'future' && tx.body.type === TxType.Reading) held.add(tx.body.meterId);
    if (time !== undefined) continue;
    try {
      const { meterId, next } = applyTx(view, tx, ctx.seqWindow);
      changed.set(meterId, next);
      decoded.push(tx);
    } catch {
      /* made invalid by a block from a peer; the chain writer drops it */
    }
  }
  return { decoded, changed };
}
