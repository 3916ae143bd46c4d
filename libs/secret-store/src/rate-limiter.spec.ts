import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('lets a burst through at once, then paces to the rate', async () => {
    const limiter = new RateLimiter(600, 5); // 10 per second
    const started = Date.now();
    for (let i = 0; i < 10; i++) await limiter.acquire();
    const elapsed = Date.now() - started;
    // 5 from the burst, 5 more at 100 ms each.
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1500);
  });

  it('reports callers waiting for quota', async () => {
    const limiter = new RateLimiter(60, 1); // 1 per second
    await limiter.acquire();
    const waiting = limiter.acquire();
    expect(limiter.queued).toBe(1);
    await waiting;
    expect(limiter.queued).toBe(0);
  });

  it('says once, before it first waits, that the rate is what holds a caller', async () => {
    const limiter = new RateLimiter(600, 1); // 10 per second
    const waits: number[] = [];
    await limiter.acquire(() => void waits.push(1));
    expect(waits).toEqual([]);
    await limiter.acquire(() => void waits.push(2));
    expect(waits).toEqual([2]);
  });
});
