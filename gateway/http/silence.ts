/**
 * When a meter counts as gone silent (docs/portal.md §The live feed): its newest reading
 * is older than a threshold, the configured `http.meterSilenceMs`, else SILENCE_FACTOR
 * times its usual interval (the median of its recent intervals, as the portal's gap
 * finder uses), at least SILENCE_MIN_MS.
 */
export const SILENCE_FACTOR = 3;
export const SILENCE_MIN_MS = 60_000;
/** Recent readings the usual interval is taken from. */
export const SILENCE_SAMPLE = 20;

/** The silence threshold of a meter from its recent reading times (ascending), ms; undefined with fewer than two readings and nothing configured. */
export function silenceThreshold(times: readonly number[], configuredMs?: number): number | undefined {
  if (configuredMs !== undefined) return configuredMs;
  const steps: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! > times[i - 1]!) steps.push(times[i]! - times[i - 1]!);
  if (steps.length === 0) return undefined;
  steps.sort((a, b) => a - b);
  const mid = steps.length >> 1;
  const median = steps.length % 2 ? steps[mid]! : Math.round((steps[mid - 1]! + steps[mid]!) / 2);
  return Math.max(SILENCE_MIN_MS, SILENCE_FACTOR * median);
}
