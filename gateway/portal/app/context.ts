/** What every page gets: the trust decision and a verifier bound to it. */
import type { Genesis } from '../../../protocols/genesis.js';
import { type ReceiptResult, ChainVerifier, fetchAndVerify, verifyReceiptBytes } from './verify.js';
import type { TrustState } from './trust.js';

export class PageContext {
  readonly chain: ChainVerifier | undefined;
  readonly genesis: Genesis | undefined;

  constructor(readonly trust: TrustState) {
    this.genesis = trust.kind === 'mismatch' ? undefined : trust.genesis;
    this.chain = this.genesis ? new ChainVerifier(this.genesis) : undefined;
  }

  private refused(): ReceiptResult {
    const why = this.trust.kind === 'mismatch' ? this.trust.why : 'no trusted genesis';
    return { verified: false, checks: [{ name: 'trusted genesis', ok: false, detail: why }] };
  }

  /** Fetch and check one reading's receipt; never throws (a failure is a failed result). */
  async verify(meterId: string, seq: bigint): Promise<ReceiptResult> {
    if (!this.genesis || !this.chain) return this.refused();
    try {
      return await fetchAndVerify(this.genesis, this.chain, meterId, seq);
    } catch (e) {
      return { verified: false, checks: [{ name: 'receipt fetched', ok: false, detail: (e as Error).message }] };
    }
  }

  async verifyBytes(bytes: Uint8Array, meterId: string, seq: bigint): Promise<ReceiptResult> {
    if (!this.genesis || !this.chain) return this.refused();
    try {
      return await verifyReceiptBytes(this.genesis, this.chain, bytes, { meterId, seq });
    } catch (e) {
      return { verified: false, checks: [{ name: 'receipt checked', ok: false, detail: (e as Error).message }] };
    }
  }
}
