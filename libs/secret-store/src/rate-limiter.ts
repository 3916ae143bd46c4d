import { sleep } from '@rotor/backoff';

/**
 * A token bucket: `ratePerMinute` tokens refill continuously up to `burst`. GSM quotas are
 * per minute per project, so rotor paces its own calls instead of discovering the quota.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private waiting = 0;

  constructor(
    private readonly ratePerMinute: number,
    private readonly burst: number = Math.max(1, Math.ceil(ratePerMinute / 60)),
    private readonly now: () => number = Date.now,
  ) {
    if (ratePerMinute <= 0) throw new Error('ratePerMinute must be positive');
    this.tokens = burst;
    this.last = now();
  }

  /** Callers waiting for a token right now: > 0 means the quota is what limits throughput. */
  get queued(): number {
    return this.waiting;
  }

  /** Takes a token, waiting for one if needed; `onWait` runs once, before the first wait. */
  async acquire(onWait?: () => Promise<void> | void): Promise<void> {
    this.waiting++;
    let waited = false;
    try {
      for (;;) {
        this.refill();
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        if (!waited) await onWait?.();
        waited = true;
        await sleep(Math.ceil(((1 - this.tokens) * 60_000) / this.ratePerMinute));
      }
    } finally {
      this.waiting--;
    }
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerMinute) / 60_000);
    this.last = now;
  }
}
