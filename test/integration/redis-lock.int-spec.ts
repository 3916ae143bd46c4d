import { randomUUID } from 'node:crypto';

import { acquireLock, createRedis, withLock, type Redis } from '@rotor/redis-store';

import { requiredEnv } from '../support/services-env';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

describe('Redis locks (real Redis)', () => {
  let redis: Redis;
  const key = `test:lock:${randomUUID()}`;

  beforeAll(() => {
    redis = createRedis(requiredEnv('REDIS_URL'), {
      connectionName: 'rotor-test-lock',
      security: redisLinkFromEnv(requiredEnv('REDIS_URL')),
    });
  });

  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('lets one holder in at a time, and releases only its own lock', async () => {
    const release = await acquireLock(redis, key, 5_000);
    expect(release).toBeDefined();
    expect(await acquireLock(redis, key, 5_000)).toBeUndefined();
    expect(await withLock(redis, { key, ttlMs: 5_000 }, async () => 'ran')).toBeUndefined();

    // A lock that expired and was taken by someone else is not released by the first holder.
    await redis.set(key, 'someone-else', 'PX', 5_000);
    await release!();
    expect(await redis.get(key)).toBe('someone-else');
    await redis.del(key);

    expect(await withLock(redis, { key, ttlMs: 5_000 }, async () => 'ran')).toBe('ran');
    expect(await redis.exists(key)).toBe(0);
  });

  it('expires by itself, so a crashed holder cannot keep it', async () => {
    expect(await acquireLock(redis, key, 200)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await acquireLock(redis, key, 200)).toBeDefined();
  });
});
