/**
 * Comparing a submitted bill with the one a validator recomputed (docs/billing.md §8.3):
 * the first field that differs, in the order of the bill's JSON form, so a refusal can
 * say E_BILL_MISMATCH at `lines[2].amount` (submitted 1234, recomputed 1233).
 */
import { type Bill, billToJson } from './bill.js';
import { ReasonCode, RejectionError } from '../errors.js';

export interface BillDifference {
  /** JSON path of the first difference: "total", "lines[2].amount", "readings[4]", "lines[7]" (one bill has no such line). */
  readonly path: string;
  /** The value in each bill as JSON text, or "absent". */
  readonly submitted: string;
  readonly recomputed: string;
}

const show = (v: unknown): string => (v === undefined ? 'absent' : JSON.stringify(v));

function firstDifference(a: unknown, b: unknown, path: string): BillDifference | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const isRec = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isRec(a) && isRec(b)) {
    const keys = [...Object.keys(b), ...Object.keys(a).filter((k) => !(k in b))];
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : { path, submitted: show(a), recomputed: show(b) };
}

/** The first difference between two bills, or undefined if they are the same bill. */
export function compareBills(submitted: Bill, recomputed: Bill): BillDifference | undefined {
  return firstDifference(billToJson(submitted), billToJson(recomputed), '');
}

/** Throw E_BILL_MISMATCH naming the first difference, if any. */
export function assertSameBill(submitted: Bill, recomputed: Bill): void {
  const d = compareBills(submitted, recomputed);
  if (d) throw new RejectionError(ReasonCode.BILL_MISMATCH, `${d.path}: submitted ${d.submitted}, recomputed ${d.recomputed}`, d.path);
}
