/**
 * A bill "recomputed in your browser" (docs/portal.md): its bundle (GET
 * /api/v1/bills/:meter/:period/bundle, docs/billing.md §22) checked with the code
 * `meterledger bill verify` runs: every receipt against the trusted genesis, then the
 * bill recomputed by the protocols/ engine and compared with the committed one. On top,
 * as for readings (verify.ts), the block of each receipt must be the one on the hash
 * chain from that genesis, hashed here from the headers the gateway lists.
 */
import { headerHash } from '../../../protocols/block.js';
import { equalBytes } from '../../../protocols/bytes.js';
import type { Bill } from '../../../protocols/billing/bill.js';
import { type BillBundle, BundleError, billBundleFromJson, verifyBillBundle } from '../../../protocols/billing/bundle.js';
import { getJson } from './api.js';
import type { PageContext } from './context.js';

export type BillCheck =
  | { readonly ok: true; readonly bill: Bill; readonly height: number; readonly readings: number; readonly bundle: BillBundle }
  | { readonly ok: false; readonly code: string; readonly why: string };

export const billPath = (meterId: string, period: string): string => `/api/v1/bills/${encodeURIComponent(meterId)}/${encodeURIComponent(period)}`;

/** Fetch and check one bill's bundle; never throws (a failure is a failed result with its code). */
export async function checkBill(ctx: PageContext, meterId: string, period: string): Promise<BillCheck> {
  if (!ctx.genesis || !ctx.chain) return { ok: false, code: 'E_UNTRUSTED_GENESIS', why: 'no trusted genesis' };
  let bundle: BillBundle;
  try {
    bundle = billBundleFromJson(await getJson<unknown>(`${billPath(meterId, period)}/bundle`));
  } catch (e) {
    return { ok: false, code: e instanceof BundleError ? e.code : (e as { code?: string }).code ?? 'E_NETWORK', why: (e as Error).message.replace(/^E_[A-Z_]+: /, '') };
  }
  let v;
  try {
    v = verifyBillBundle(ctx.genesis, bundle);
  } catch (e) {
    if (e instanceof BundleError) return { ok: false, code: e.code, why: e.message.replace(/^E_[A-Z_]+: /, '') };
    return { ok: false, code: 'E_BUNDLE_MALFORMED', why: (e as Error).message };
  }
  if (v.bill.meterId !== meterId || v.bill.period.label !== period) {
    return { ok: false, code: 'E_BUNDLE_WRONG_TX', why: `asked for ${meterId} ${period}, the bundle proves ${v.bill.meterId} ${v.bill.period.label}` };
  }
  // Each receipt's block must be the one on the chain from the trusted genesis.
  for (const [field, r] of [['bill', bundle.bill] as const, ...bundle.readings.map((x, i) => [`readings[${i}]`, x] as const)]) {
    try {
      const hash = (await ctx.chain.headers.hashAt(r.header.height)).hash;
      if (!equalBytes(hash, headerHash(r.header))) return { ok: false, code: 'E_BUNDLE_RECEIPT', why: `${field}: block ${r.header.height} is not the one on the chain from genesis` };
    } catch (e) {
      return { ok: false, code: 'E_BUNDLE_RECEIPT', why: `${field}: ${(e as Error).message}` };
    }
  }
  return { ok: true, bill: v.bill, height: v.height, readings: v.readings, bundle };
}
