/**
 * What checking a transaction's signature needs (TxContext), and the check itself through
 * a cache: intake, block validation (blocks/validate.ts) and the write-ahead recovery
 * all verify through `verifyTxSignature`.
 */
import { type Alg, BoundedMap, type ReadingWindow, type SignedTx, type TxBody, equalBytes, sigStructure } from '../protocols/index.js';
import type { SignatureVerifier } from './crypto/verifier.js';
import type { CommittedReadings } from './state/ledger.js';
import type { ChainParams, Operators } from './state/meter.js';

/**
 * Signatures already checked, by transaction hash and the key that checked them:
 * a reading gossiped by a peer and then proposed in a block is verified once per node.
 * The key is held as the registry's own bytes (no copy, no hex string per entry).
 */
export class SignatureCache {
  private readonly map: BoundedMap<string, Uint8Array>;
  constructor(max = 200_000) {
    this.map = new BoundedMap(max);
  }
  has(tx: SignedTx<TxBody>, publicKey: Uint8Array): boolean {
    const k = this.map.get(tx.hashHex);
    return k !== undefined && (k === publicKey || equalBytes(k, publicKey));
  }
  add(tx: SignedTx<TxBody>, publicKey: Uint8Array): void {
    this.map.set(tx.hashHex, publicKey);
  }
}

export interface TxContext extends ChainParams {
  readonly chainId: string;
  readonly maxTxBytes: number;
  /** The block rule on reading times (genesis params, readingWindow()). */
  readonly window: ReadingWindow;
  /** The anti-replay window of each meter (genesis params, seqWindowOf()). */
  readonly seqWindow: number;
  readonly operators: Operators;
  readonly verifier: SignatureVerifier;
  readonly cache?: SignatureCache;
  /** Loads what bills need before they are applied (state/ledger.ts); absent: no bills here. */
  readonly bills?: CommittedReadings;
}

/** Verify one transaction's signature with `signer`, through the cache; no signer (state/rules.ts): false. */
export async function verifyTxSignature(ctx: TxContext, signer: { alg: Alg; publicKey: Uint8Array } | undefined, tx: SignedTx<TxBody>): Promise<boolean> {
  if (!signer) return false;
  if (ctx.cache?.has(tx, signer.publicKey)) return true;
  const ok = await ctx.verifier.verify(signer.alg, signer.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, ctx.chainId), tx.cose.signature);
  if (ok) ctx.cache?.add(tx, signer.publicKey);
  return ok;
}
