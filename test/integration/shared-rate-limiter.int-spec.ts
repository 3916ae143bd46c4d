import { randomUUID } from 'node:crypto';

import { createRedis, SharedRateLimiter, type Redis } from '@rotor/redis-store';
import { RateLimiter } from '@rotor/secret-store';

import { PrivateRedis } from '../support/private-redis';
import { requiredEnv } from '../support/services-env';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

const timed = async (work: () => Promise<unknown>): Promise<number> => {
  const started = Date.now();
  await work();
  return Date.now() - started;
};

describe('SharedRateLimiter (real Redis)', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = createRedis(requiredEnv('REDIS_URL'), {
      connectionName: 'rotor-test-rate',
      security: redisLinkFromEnv(requiredEnv('REDIS_URL')),
    });
  });

  afterAll(() => redis.disconnect());

  const limiter = (key: string, connection = redis) =>
    new SharedRateLimiter(connection, { key, ratePerMinute: 600, burst: 1, fallback: new RateLimiter(600, 1) }); // 10 per second

  it('paces every holder of the same key together, and keys apart', async () => {
    const key = `test:rate:${randomUUID()}`;
    const replicas = [limiter(key), limiter(key)];
    // 10 tokens at 10/s with a burst of 1: about 900 ms, where each alone would take about 400 ms.
    const together = await timed(() => Promise.all(replicas.flatMap((replica) => [1, 2, 3, 4, 5].map(() => replica.acquire()))));
    expect(together).toBeGreaterThanOrEqual(850);
    expect(together).toBeLessThan(2_500);

    const other = limiter(`test:rate:${randomUUID()}`);
    expect(await timed(() => other.acquire())).toBeLessThan(200); // a bucket of its own, still full
    await redis.del(key);
  });

  it('reports waiting callers and says when it starts to wait', async () => {
    const shared = limiter(`test:rate:${randomUUID()}`);
    await shared.acquire();
    let told = 0;
    const waiting = shared.acquire(() => void told++);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shared.queued).toBe(1);
    await waiting;
    expect(told).toBe(1);
    expect(shared.queued).toBe(0);
  });

  it('falls back to pacing this process alone while Redis is unreachable', async () => {
    const down = new PrivateRedis(19432);
    await down.start();
    const connection = createRedis(down.url, { connectionName: 'rotor-test-rate-down', security: redisLinkFromEnv(down.url) });
    await connection.connect();
    const errors: unknown[] = [];
    const fallback = new RateLimiter(600, 1);
    const shared = new SharedRateLimiter(connection, {
      key: 'test:rate:down',
      ratePerMinute: 600,
      burst: 1,
      fallback,
      onRedisError: (error) => errors.push(error),
    });
    await shared.acquire();
    expect(errors).toHaveLength(0);
    await down.kill();
    try {
      const elapsed = await timed(async () => {
        for (let i = 0; i < 3; i++) await shared.acquire();
      });
      expect(errors.length).toBeGreaterThanOrEqual(3);
      expect(elapsed).toBeGreaterThanOrEqual(150); // the fallback still paces: burst 1, then 100 ms each
    } finally {
      connection.disconnect();
    }
  });
});
