import type IORedis from 'ioredis';

import { Cluster, type Redis } from './redis-connection';

/**
 * Every key matching `pattern`, page by page (SCAN, never KEYS: it does not block the server).
 * On a Redis Cluster each master holds its own slots: every master is scanned (a replica holds
 * copies of its master's keys, so replicas are not). SCAN may return a key twice; each is yielded once.
 */
export async function* scanKeys(redis: Redis, pattern: string, count = 500): AsyncGenerator<string> {
  const seen = new Set<string>();
  const servers = await serversOf(redis);
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      for (const key of keys) {
        if (seen.has(key)) continue;
        seen.add(key);
        yield key;
      }
    } while (cursor !== '0');
  }
}

/**
 * The servers holding the keyspace: one Redis, or a cluster's masters once its slot map is known (a lazy
 * client connects first). For whole-keyspace work and keyless commands that every master needs (SCRIPT LOAD).
 */
export async function serversOf(redis: Redis): Promise<IORedis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  if (redis.status === 'wait') await redis.connect();
  else if (redis.status !== 'ready') await redis.ping(); // waits for the connection under way
  return redis.nodes('master');
}

/**
 * Runs `handle` on every key matching `pattern`, a page of `page` keys at a time, the keys of a
 * page concurrently: for one-time upgrades and cleanups of a whole keyspace.
 */
export async function forEachKey(redis: Redis, pattern: string, handle: (key: string) => Promise<unknown>, page = 500): Promise<void> {
  let keys: string[] = [];
  for await (const key of scanKeys(redis, pattern, page)) {
    keys.push(key);
    if (keys.length >= page) {
      await Promise.all(keys.map(handle));
      keys = [];
    }
  }
  await Promise.all(keys.map(handle));
}

/** {@link scanKeys}, collected. */
export async function allKeys(redis: Redis, pattern: string, count = 500): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of scanKeys(redis, pattern, count)) keys.push(key);
  return keys;
}
