import Redis from 'ioredis';

/**
 * One Redis client per service. Each service owns the keys under its own prefix
 * (`issuer:`, `revoker:`, …) and never reads another's.
 */
/** Who the client is and how it trusts the server (libs/config's redisSecurity). */
export interface RedisLinkSecurity {
  username?: string;
  password?: string;
  tls?: { ca?: string };
}

/** ioredis options for a link: an explicit user, password and CA override anything in the URL. */
export const redisSecurityOptions = (security: RedisLinkSecurity | undefined) => ({
  ...(security?.username ? { username: security.username } : {}),
  ...(security?.password ? { password: security.password } : {}),
  ...(security?.tls ? { tls: { ...security.tls, rejectUnauthorized: true } } : {}),
});

export interface RedisConnectionOptions {
  /** Shown by CLIENT LIST, so an operator sees which service holds a connection. */
  connectionName: string;
  onError?: (error: Error) => void;
  security?: RedisLinkSecurity;
  /**
   * Fail fast (ROTOR_DEPENDENCY_TIMEOUT_MS): a command without an answer by then is rejected with
   * "Command timed out" (a frozen server, a cut link) instead of waiting forever. It may still run later.
   */
  commandTimeoutMs?: number;
}

export function createRedis(
  url: string,
  { connectionName, onError = () => undefined, security, commandTimeoutMs }: RedisConnectionOptions,
): Redis {
  const redis = new Redis(url, {
    ...redisSecurityOptions(security),
    connectionName,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(1_000, 50 * 2 ** attempt),
  });
  // Connection errors surface through commands and /readyz; the listener keeps them from crashing the process.
  redis.on('error', onError);
  return redis;
}

export type { Redis };

export async function pingRedis(redis: Redis): Promise<void> {
  const answer: string = await redis.ping();
  if (answer !== 'PONG') throw new Error(`unexpected PING answer: ${answer}`);
}

/** Reads many hashes in one round trip (a pipeline of HGETALL); a missing key reads as `{}`. */
export async function readHashes(redis: Redis, keys: readonly string[]): Promise<Record<string, string>[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hgetall(key);
  return ((await pipeline.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value as Record<string, string>;
  });
}
