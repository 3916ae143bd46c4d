export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Attempts in total, the first included. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, maxAttempts: 5 };

/** "Full jitter" exponential backoff: a uniform delay in [0, min(max, initial·2^(attempt-1))]. */
export const backoffDelay = (attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number =>
  Math.round(random() * Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1)));

/** Resolves after `ms`, or at once when `signal` aborts (a stopping loop does not wait out its pause). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
