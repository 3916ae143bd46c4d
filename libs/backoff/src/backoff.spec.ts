import { backoffDelay, sleep } from './backoff';

describe('backoffDelay', () => {
  it('grows exponentially from the initial delay up to the maximum, scaled by the jitter', () => {
    const policy = { initialMs: 100, maxMs: 1_000, maxAttempts: 10 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, policy, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts, and at once when it already has', async () => {
    const stopping = new AbortController();
    const started = Date.now();
    const pause = sleep(10_000, stopping.signal);
    stopping.abort();
    await pause;
    await sleep(10_000, stopping.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
