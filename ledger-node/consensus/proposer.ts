/**
 * Proposer selection: deterministic, rotating, and proportional to voting power
 * (each validator proposes `power` of every `total power` consecutive (height, round) slots).
 */
import type { Validator } from './types.js';

export function proposerOf(validators: readonly Validator[], height: number, round: number): string {
  const total = validators.reduce((s, v) => s + v.power, 0);
  let slot = (height + round) % total;
  for (const v of validators) {
    if (slot < v.power) return v.id;
    slot -= v.power;
  }
  return validators[0]!.id; // unreachable with positive powers
}
