import { nextStep, retryAt } from './schedule';

const S = 1000;

describe('renewal schedule', () => {
  it('renews at two thirds of the TTL while the maximum leaves room, then replaces before the old lease ends (6 s TTL, 15 s max)', () => {
    let timing = { refreshedAt: 0, expiresAt: 6 * S, maxExpiresAt: 15 * S, ttlMs: 6 * S };
    const steps: string[] = [];
    for (let i = 0; i < 4; i++) {
      const step = nextStep(timing);
      steps.push(`${step.action}@${step.at}`);
      if (step.action === 'replace') {
        expect(step.at).toBeLessThan(timing.expiresAt);
        break;
      }
      // The issuer caps a renewal at the maximum.
      timing = { ...timing, refreshedAt: step.at, expiresAt: Math.min(step.at + timing.ttlMs, timing.maxExpiresAt) };
    }
    expect(steps).toEqual(['renew@4000', 'renew@8000', 'replace@12000']);
  });

  it('replaces when a renewal was capped at the maximum', () => {
    // Renewed at 10 s with 5 s of maximum left: expiry 15 s, the step comes at 13.3 s, and is a replacement.
    expect(nextStep({ refreshedAt: 10 * S, expiresAt: 15 * S, maxExpiresAt: 15 * S, ttlMs: 6 * S })).toEqual({
      action: 'replace',
      at: 13_333,
    });
  });

  it('at a 15-minute TTL and 1-hour maximum: renewals at 10, 20, 30, 40 minutes, a new lease at 50', () => {
    const M = 60 * S;
    let timing = { refreshedAt: 0, expiresAt: 15 * M, maxExpiresAt: 60 * M, ttlMs: 15 * M };
    const steps: string[] = [];
    for (;;) {
      const step = nextStep(timing);
      steps.push(`${step.action}@${step.at / M}m`);
      if (step.action === 'replace') break;
      timing = { ...timing, refreshedAt: step.at, expiresAt: Math.min(step.at + timing.ttlMs, timing.maxExpiresAt) };
    }
    expect(steps).toEqual(['renew@10m', 'renew@20m', 'renew@30m', 'renew@40m', 'replace@50m']);
  });

  it('retries with backoff but, while the lease runs, within half of what is left of it', () => {
    const max = () => 1; // the top of each backoff window
    expect(retryAt({ now: 0, expiresAt: 60 * S, attempt: 1, random: max })).toBe(500);
    expect(retryAt({ now: 0, expiresAt: 60 * S, attempt: 5, random: max })).toBe(8_000);
    expect(retryAt({ now: 0, expiresAt: 2 * S, attempt: 5, random: max })).toBe(1_000);
    // Past the expiry, plain backoff, capped at 30 s; never sooner than 100 ms.
    expect(retryAt({ now: 10 * S, expiresAt: 2 * S, attempt: 10, random: max })).toBe(40 * S);
    expect(retryAt({ now: 0, expiresAt: 60 * S, attempt: 1, random: () => 0 })).toBe(100);
  });
});
