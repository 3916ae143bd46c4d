import { backoffDelay, type BackoffPolicy } from '@rotor/backoff';

/** What the agent knows of one lease's clock, in epoch milliseconds. */
export interface LeaseTiming {
  /** When the current expiry was set (issued or last renewed). */
  refreshedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  /** The TTL a renewal gives (the lease's first period). */
  ttlMs: number;
}

export interface Step {
  action: 'renew' | 'replace';
  at: number;
}

/** Renew when two thirds of the current period have passed: a third of it is left for retries. */
export const RENEW_FRACTION = 2 / 3;

/**
 * The next thing to do for a lease. At the usual point (two thirds of the period) it is renewed,
 * unless the maximum lifetime no longer leaves room for a full TTL: then a new lease is obtained
 * at that point instead, while the old one still has a third of its period to run, so the file
 * is swapped before the old credential stops working.
 */
export function nextStep(timing: LeaseTiming): Step {
  const at = Math.round(timing.refreshedAt + RENEW_FRACTION * (timing.expiresAt - timing.refreshedAt));
  return { action: timing.maxExpiresAt - at < timing.ttlMs ? 'replace' : 'renew', at };
}

const RETRY_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, maxAttempts: Infinity };

/**
 * When to try again after `attempt` failures. Backoff, but while the lease still runs never
 * later than half of what is left of it, so the last attempts come before the expiry rather
 * than after; at least 100 ms apart.
 */
export function retryAt({
  now,
  expiresAt,
  attempt,
  random,
}: {
  now: number;
  expiresAt: number;
  attempt: number;
  random?: () => number;
}): number {
  const delay = backoffDelay(attempt, RETRY_BACKOFF, random);
  const left = expiresAt - now;
  return now + Math.max(100, left > 0 ? Math.min(delay, left / 2) : delay);
}
