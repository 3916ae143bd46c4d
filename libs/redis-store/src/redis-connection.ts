import IORedis, { Cluster } from 'ioredis';

/**
 * A connection to rotor's Redis: one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES).
 * Both run the same commands; on a cluster every multi-key command, MULTI and Lua script must touch
 * keys of one hash slot (a shared `{tag}`), and a whole-keyspace SCAN must ask every master (scanKeys).
 */
export type Redis = IORedis | Cluster;
export { Cluster };

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
  /** Redis Cluster seed nodes (host:port): a Cluster client with the URL's TLS and the link's user; else one server. */
  clusterNodes?: readonly string[];
  /**
   * Fail fast (ROTOR_DEPENDENCY_TIMEOUT_MS): a command without an answer by then is rejected with
   * "Command timed out" (a frozen server, a cut link) instead of waiting forever. It may still run later.
   */
  commandTimeoutMs?: number;
}

export function createRedis(
  url: string,
  { connectionName, onError = () => undefined, security, commandTimeoutMs, clusterNodes }: RedisConnectionOptions,
): Redis {
  const options = {
    ...redisSecurityOptions(security),
    connectionName,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    maxRetriesPerRequest: 2,
    // Commands issued in one turn of the event loop (concurrent requests, a handler's parallel
    // writes) go out in one write: over TLS each write is a record and a syscall, the largest
    // share of a Redis call's CPU in the profiles of issue 20.
    enableAutoPipelining: true,
  };
  const retry = (attempt: number) => Math.min(1_000, 50 * 2 ** attempt);
  const redis =
    clusterNodes && clusterNodes.length > 0
      ? new Cluster(
          clusterNodes.map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
          {
            // The URL's scheme decides TLS, as for one server (rediss: TLS with the configured CA).
            redisOptions: { ...options, ...(new URL(url).protocol === 'rediss:' && !options.tls ? { tls: {} } : {}) },
            lazyConnect: true,
            enableOfflineQueue: true,
            enableAutoPipelining: true,
            clusterRetryStrategy: retry,
            // A failover moves slots: the client follows MOVED/ASK and re-reads the slot map.
            slotsRefreshTimeout: 2_000,
            // While a slot's master is down and no replica has taken over, each try waits
            // retryDelayOnFailover (100 ms): 6 tries fail a command in about 0.6 s rather than
            // ioredis' 16 (1.6 s), so a request answers 503 within the fail-fast bound of issue 15
            // (the chaos run saw 3 s: one failed write and its undo). Consumers and claim loops
            // retry outages themselves.
            maxRedirections: 6,
          },
        )
      : new IORedis(url, { ...options, lazyConnect: true, enableOfflineQueue: true, retryStrategy: retry });
  // Connection errors surface through commands and /readyz; the listener keeps them from crashing the process.
  redis.on('error', onError);
  return redis;
}

export async function pingRedis(redis: Redis): Promise<void> {
  const answer: string = await redis.ping();
  if (answer !== 'PONG') throw new Error(`unexpected PING answer: ${answer}`);
}

/** Reads many hashes in one round trip (a pipeline of HGETALL); a missing key reads as `{}`. */
export async function readHashes(redis: Redis, keys: readonly string[]): Promise<Record<string, string>[]> {
  if (keys.length === 0) return [];
  // A cluster pipeline must stay on one node; these keys are spread over the slots: one command each, sent together.
  if (redis instanceof Cluster) return Promise.all(keys.map((key) => redis.hgetall(key)));
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.hgetall(key);
  return ((await pipeline.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value as Record<string, string>;
  });
}
