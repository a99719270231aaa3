/**
 * Reconnect delays: exponential backoff with "equal jitter" (half fixed, half random), so
 * a site's gateways restarted together do not all knock on the server at the same instant.
 */

export interface BackoffOptions {
  readonly minMs?: number;
  readonly maxMs?: number;
}

export const DEFAULT_BACKOFF = { minMs: 1000, maxMs: 30_000 } as const;

/**
 * Delay before reconnect attempt `attempt` (0 for the first after a loss):
 * d = min(max, min * 2^attempt); the delay is d/2 + random * d/2.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = Math.max(1, o.minMs ?? DEFAULT_BACKOFF.minMs);
  const max = Math.max(min, o.maxMs ?? DEFAULT_BACKOFF.maxMs);
  const d = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + random() * (d / 2));
}
