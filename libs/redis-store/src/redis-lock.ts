import { randomUUID } from 'node:crypto';

import type { Redis } from './redis-connection';

/** Deletes the lock only if it is still ours: an expired lock may already belong to someone else. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Takes a lock that expires by itself after `ttlMs` (so a crashed holder cannot keep it),
 * or answers undefined when someone holds it. The returned function releases it.
 */
export async function acquireLock(redis: Redis, key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
  const token = randomUUID();
  if (!(await redis.set(key, token, 'PX', ttlMs, 'NX'))) return undefined;
  return async () => {
    await redis.eval(RELEASE, 1, key, token);
  };
}

/** Runs `task` under the lock `key` (held at most `ttlMs`); undefined, without running it, when someone else holds the lock. */
export async function withLock<T>(
  redis: Redis,
  { key, ttlMs }: { key: string; ttlMs: number },
  task: () => Promise<T>,
): Promise<T | undefined> {
  const release = await acquireLock(redis, key, ttlMs);
  if (!release) return undefined;
  try {
    return await task();
  } finally {
    await release();
  }
}
