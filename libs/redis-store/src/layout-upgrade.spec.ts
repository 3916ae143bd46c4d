import { LAYOUT_UPGRADE_ROLLOUT_MS, runLayoutUpgrade } from './layout-upgrade';
import type { Redis } from './redis-connection';

/** GET and SET NX over a map: all runLayoutUpgrade asks of Redis (its scans run on the real one in redis-live-state). */
const keyValueStore = () => {
  const values = new Map<string, string>();
  const redis = {
    get: (key: string) => Promise.resolve(values.get(key) ?? null),
    set: (key: string, value: string, nx: 'NX') => {
      if (nx === 'NX' && values.has(key)) return Promise.resolve(null);
      values.set(key, value);
      return Promise.resolve('OK');
    },
  } as unknown as Redis;
  return { redis, values };
};

describe('runLayoutUpgrade', () => {
  const start = Date.parse('2026-12-05T12:00:00Z');

  it('runs at every start for a day after its first complete run, then never again', async () => {
    const { redis, values } = keyValueStore();
    let runs = 0;
    const upgrade = () => Promise.resolve(++runs);
    expect(await runLayoutUpgrade(redis, 'svc:layout-upgrade:x', upgrade, start)).toBe(1);
    expect(values.get('svc:layout-upgrade:x')).toBe(new Date(start).toISOString());
    expect(await runLayoutUpgrade(redis, 'svc:layout-upgrade:x', upgrade, start + LAYOUT_UPGRADE_ROLLOUT_MS - 1)).toBe(2);
    expect(values.get('svc:layout-upgrade:x')).toBe(new Date(start).toISOString()); // the first run's time stays
    expect(await runLayoutUpgrade(redis, 'svc:layout-upgrade:x', upgrade, start + LAYOUT_UPGRADE_ROLLOUT_MS)).toBeUndefined();
    expect(runs).toBe(2);
  });

  it('records nothing when the upgrade fails, so the next start runs it again', async () => {
    const { redis, values } = keyValueStore();
    await expect(
      runLayoutUpgrade(redis, 'svc:layout-upgrade:y', () => Promise.reject(new Error('Redis went away')), start),
    ).rejects.toThrow('Redis went away');
    expect(values.size).toBe(0);
  });
});
