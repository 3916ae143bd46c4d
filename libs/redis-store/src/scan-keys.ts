import type Redis from 'ioredis';

/**
 * Every key matching `pattern`, page by page (SCAN, never KEYS: it does not block the server).
 * SCAN may return a key twice across pages; each is yielded once.
 */
export async function* scanKeys(redis: Redis, pattern: string, count = 500): AsyncGenerator<string> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      yield key;
    }
  } while (cursor !== '0');
}

/** {@link scanKeys}, collected. */
export async function allKeys(redis: Redis, pattern: string, count = 500): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of scanKeys(redis, pattern, count)) keys.push(key);
  return keys;
}
