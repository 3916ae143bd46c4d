import { VerifiedTokenCache } from './verified-token-cache';

describe('VerifiedTokenCache', () => {
  let now = 1_000_000;
  const clock = () => now;

  beforeEach(() => (now = 1_000_000));

  it('answers a verified token until its time in the cache runs out', () => {
    const cache = new VerifiedTokenCache<string>(30_000, 10, clock);
    cache.set('token-a', 'caller-a', now + 3_600_000);
    expect(cache.get('token-a')).toBe('caller-a');
    now += 29_999;
    expect(cache.get('token-a')).toBe('caller-a');
    now += 1;
    expect(cache.get('token-a')).toBeUndefined();
  });

  it("never answers past the token's own expiry", () => {
    const cache = new VerifiedTokenCache<string>(60_000, 10, clock);
    cache.set('token-a', 'caller-a', now + 5_000);
    now += 5_000;
    expect(cache.get('token-a')).toBeUndefined();
    cache.set('token-b', 'caller-b', now - 1); // already expired: not kept at all
    expect(cache.size).toBe(0);
  });

  it('keeps nothing when its time is 0 (the cache is off)', () => {
    const cache = new VerifiedTokenCache<string>(0, 10, clock);
    cache.set('token-a', 'caller-a', now + 60_000);
    expect(cache.get('token-a')).toBeUndefined();
  });

  it('drops the oldest entries past its bound, and answers only the exact token', () => {
    const cache = new VerifiedTokenCache<string>(60_000, 2, clock);
    cache.set('token-a', 'caller-a', now + 60_000);
    cache.set('token-b', 'caller-b', now + 60_000);
    cache.set('token-c', 'caller-c', now + 60_000);
    expect([cache.get('token-a'), cache.get('token-b'), cache.get('token-c')]).toEqual([undefined, 'caller-b', 'caller-c']);
    expect(cache.get('token-b ')).toBeUndefined();
  });
});
