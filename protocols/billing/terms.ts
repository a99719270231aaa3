/**
 * The terms a meter is billed under over time (docs/billing.md §5.1): its agreements
 * (meter -> tariff from an instant) and, within each, the version of that tariff in
 * force (the latest whose effectiveFrom is at or before the instant).
 */
import { ReasonCode, RejectionError } from '../errors.js';
import { MAX_INSTANT } from './localtime.js';
import { TARIFF_ID_PATTERN, type Tariff } from './tariff.js';

/** From `from` on, the meter is billed under tariff `tariff`; null ends the agreement before it. */
export interface Agreement {
  readonly from: number;
  readonly tariff: string | null;
}

/** A stretch of time [from, to) under one tariff version, or under none. */
export interface TermsRun {
  readonly from: number;
  readonly to: number;
  /** The tariff an agreement names, or null where no agreement is in force. */
  readonly tariff: string | null;
  /** Its version in force; undefined where the tariff has no version in force. */
  readonly version: Tariff | undefined;
}

function agreementsInOrder(agreements: readonly Agreement[]): Agreement[] {
  agreements.forEach((a, i) => {
    if (typeof a !== 'object' || a === null) throw new RejectionError(ReasonCode.BILL_AGREEMENTS_INVALID, `agreements[${i}] must be an object { from, tariff }`, `agreements[${i}]`);
    if (!Number.isSafeInteger(a.from) || a.from < 0 || a.from >= MAX_INSTANT) {
      throw new RejectionError(ReasonCode.BILL_AGREEMENTS_INVALID, `agreements[${i}].from must be an instant in ms from 0 below ${MAX_INSTANT}`, `agreements[${i}].from`);
    }
    if (a.tariff !== null && (typeof a.tariff !== 'string' || !TARIFF_ID_PATTERN.test(a.tariff))) {
      throw new RejectionError(ReasonCode.BILL_AGREEMENTS_INVALID, `agreements[${i}].tariff must be a tariff name or null`, `agreements[${i}].tariff`);
    }
  });
  const sorted = [...agreements].sort((a, b) => a.from - b.from);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.from === sorted[i - 1]!.from) {
      throw new RejectionError(ReasonCode.BILL_AGREEMENTS_INVALID, `two agreements take effect at ${sorted[i]!.from}`, 'agreements');
    }
  }
  return sorted;
}

/** The versions of each tariff, by effectiveFrom; E_TARIFF_CONFLICT for two at one instant. */
export function versionsByTariff(tariffs: readonly Tariff[]): Map<string, Tariff[]> {
  const by = new Map<string, Tariff[]>();
  for (const t of tariffs) {
    const list = by.get(t.tariff) ?? [];
    if (!list.some((x) => x.id === t.id)) list.push(t);
    by.set(t.tariff, list);
  }
  for (const [name, list] of by) {
    list.sort((a, b) => a.effectiveFrom - b.effectiveFrom);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.effectiveFrom === list[i - 1]!.effectiveFrom) {
        throw new RejectionError(ReasonCode.TARIFF_CONFLICT, `tariff "${name}" has two versions in force from ${list[i]!.effectiveFrom} (${list[i - 1]!.id}, ${list[i]!.id})`, 'tariffs');
      }
    }
  }
  return by;
}

/**
 * The meter's terms over all time, [0, MAX_INSTANT) cut into runs: where no agreement
 * is in force, where one is but its tariff has no version in force, and each version.
 */
export function termsTimeline(agreements: readonly Agreement[], tariffs: readonly Tariff[]): TermsRun[] {
  const byTariff = versionsByTariff(tariffs);
  const ags = agreementsInOrder(agreements);
  const runs: TermsRun[] = [];
  const push = (r: TermsRun): void => {
    if (r.from >= r.to) return;
    const last = runs[runs.length - 1];
    // An agreement renewing the same tariff continues the same version: one run.
    if (last && last.to === r.from && last.tariff === r.tariff && last.version?.id === r.version?.id) runs[runs.length - 1] = { ...last, to: r.to };
    else runs.push(r);
  };
  push({ from: 0, to: ags[0]?.from ?? MAX_INSTANT, tariff: null, version: undefined });
  ags.forEach((a, i) => {
    const to = ags[i + 1]?.from ?? MAX_INSTANT;
    if (a.tariff === null) return push({ from: a.from, to, tariff: null, version: undefined });
    const versions = byTariff.get(a.tariff) ?? [];
    let at = a.from;
    let k = -1; // the version in force at `at`: the last with effectiveFrom <= at
    while (k + 1 < versions.length && versions[k + 1]!.effectiveFrom <= at) k++;
    while (at < to) {
      const next = Math.min(to, versions[k + 1]?.effectiveFrom ?? to);
      push({ from: at, to: next, tariff: a.tariff, version: k >= 0 ? versions[k] : undefined });
      at = next;
      k++;
    }
  });
  return runs;
}

/** The version in force at instant `at`, if any. */
export function versionAt(timeline: readonly TermsRun[], at: number): Tariff | undefined {
  return timeline.find((r) => r.from <= at && at < r.to)?.version;
}
