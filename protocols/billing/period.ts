/**
 * Billing periods (docs/billing.md §5.1): a calendar month in the tariff's local time
 * ("2026-03"), or on a chain with a short cycle for demos, cycle N of a fixed length from
 * an epoch ("cycle-12"). A period is [start, end), instants in ms.
 */
import { ReasonCode, RejectionError } from '../errors.js';
import { MAX_INSTANT, MS_PER_DAY, type LocalTimeRules, daysFromCivil, startOfLocalDay } from './localtime.js';
import type { TermsRun } from './terms.js';

export interface BillPeriod {
  readonly label: string;
  readonly start: number;
  readonly end: number;
}

/** A chain parameter: periods are [epoch + N * lengthMs, epoch + (N + 1) * lengthMs). */
export interface CycleRule {
  readonly epoch: number;
  readonly lengthMs: number;
}

const MONTH_LABEL = /^(\d{4})-(0[1-9]|1[0-2])$/;
const CYCLE_LABEL = /^cycle-(0|[1-9]\d{0,14})$/;

const invalid = (msg: string, field = 'period'): RejectionError => new RejectionError(ReasonCode.BILL_PERIOD_INVALID, msg, field);

/** The month's first and next month's first day numbers. */
function monthDays(label: string): { first: number; next: number } | undefined {
  const m = MONTH_LABEL.exec(label);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  if (y < 1970 || (y === 9999 && mo === 12)) return undefined;
  return { first: daysFromCivil(y, mo, 1), next: daysFromCivil(mo === 12 ? y + 1 : y, mo === 12 ? 1 : mo + 1, 1) };
}

/** Month "YYYY-MM" under one set of local time rules: from its first local day's start to the next month's. */
export function monthPeriod(rules: LocalTimeRules, label: string): BillPeriod {
  const d = monthDays(label);
  if (!d) throw invalid(`"${label}" is not a month "YYYY-MM" from 1970-01 to 9999-11`);
  const start = startOfLocalDay(rules, d.first);
  const end = startOfLocalDay(rules, d.next);
  if (start < 0 || end >= MAX_INSTANT) throw invalid(`month ${label} starts before 1970 in these local time rules`);
  return { label, start, end };
}

export function checkCycleRule(rule: CycleRule): void {
  if (!Number.isSafeInteger(rule.epoch) || rule.epoch < 0 || rule.epoch >= MAX_INSTANT) throw invalid('cycle.epoch must be an instant in ms from 0', 'cycle.epoch');
  if (!Number.isSafeInteger(rule.lengthMs) || rule.lengthMs < 1000 || rule.lengthMs > 366 * MS_PER_DAY) {
    throw invalid('cycle.lengthMs must be an integer from 1000 (1 s) to 366 days', 'cycle.lengthMs');
  }
}

/** Cycle N: "cycle-N". */
export function cyclePeriod(rule: CycleRule, index: number): BillPeriod {
  checkCycleRule(rule);
  if (!Number.isSafeInteger(index) || index < 0) throw invalid('a cycle index is an integer from 0');
  const start = rule.epoch + index * rule.lengthMs;
  const end = start + rule.lengthMs;
  if (end > MAX_INSTANT) throw invalid(`cycle-${index} ends after 9999`);
  return { label: `cycle-${index}`, start, end };
}

/**
 * The period a label names for a meter. A month is cut in the local time of the tariff
 * version that decides the meter's calendar at the month's start: the one in force at
 * the UTC midnight opening the month's first day, else the first one in force after that
 * instant, else the last one before it. Each month boundary is thus fixed once, so a
 * meter's months never overlap nor leave gaps, whatever its switches.
 */
export function resolvePeriod(label: string, timeline: readonly TermsRun[], cycle?: CycleRule): BillPeriod {
  const c = CYCLE_LABEL.exec(label);
  if (c) {
    if (!cycle) throw invalid(`"${label}" names a cycle, but this chain has no cycle rule`);
    return cyclePeriod(cycle, Number(c[1]));
  }
  const d = monthDays(label);
  if (!d) throw invalid(`"${label}" is neither a month "YYYY-MM" (1970-01..9999-11) nor "cycle-N"`);
  const boundary = (days: number): number => {
    const anchor = days * MS_PER_DAY;
    const runs = timeline.filter((r) => r.version !== undefined);
    const run = runs.find((r) => r.from <= anchor && anchor < r.to) ?? runs.find((r) => r.from > anchor) ?? runs[runs.length - 1];
    if (!run) {
      const named = timeline.find((r) => r.tariff !== null);
      if (named) throw new RejectionError(ReasonCode.BILL_NO_TARIFF, `tariff "${named.tariff}" has no version in force at any time`, 'tariffs');
      throw new RejectionError(ReasonCode.BILL_NO_AGREEMENT, 'the meter has no agreement', 'agreements');
    }
    return startOfLocalDay(run.version!.localTime, days);
  };
  const start = boundary(d.first);
  const end = boundary(d.next);
  if (start < 0 || end >= MAX_INSTANT || end <= start) throw invalid(`month ${label} has no extent in its tariffs' local time`);
  return { label, start, end };
}
