import type { Redis } from './redis-connection';

/**
 * A token bucket kept in Redis, so every process that shares the Redis shares the rate (a
 * GSM quota is per project, not per replica). The clock is Redis's own (TIME), so replicas
 * with skewed clocks still agree. Answers 0 when a token was taken, or how many ms to wait.
 */
const TAKE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local perMs = tonumber(ARGV[1]) / 60000
local burst = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(bucket[1]) or burst
local last = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * perMs)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 60000)
return wait`;

/** What a rate limiter needs to fall back on when Redis cannot answer. */
export interface LocalPacer {
  acquire(onWait?: () => Promise<void> | void): Promise<void>;
}

export interface SharedRateLimiterOptions {
  /** The bucket, shared by every limiter with the same key. */
  key: string;
  ratePerMinute: number;
  burst?: number;
  /**
   * Paces this process alone while Redis is unreachable: the quota is then overrun by at
   * most the number of replicas, which GSM answers with RESOURCE_EXHAUSTED and backoff.
   */
  fallback: LocalPacer;
  onRedisError?: (error: unknown) => void;
}

type TakeToken = { rotorTakeToken(key: string, rate: number, burst: number): Promise<number> };

const defineTakeToken = (redis: Redis): Redis & TakeToken => {
  // One definition per client, however many buckets (one per secret for version writes, one per caller for requests).
  if (!('rotorTakeToken' in redis)) redis.defineCommand('rotorTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  return redis as Redis & TakeToken;
};

/**
 * One bucket per key under a prefix (one per caller), that refuses instead of waiting: for
 * request rates answered with 429. A Redis failure is thrown, not paced around.
 */
export class KeyedRateLimiter {
  private readonly redis: Redis & TakeToken;
  private readonly burst: number;

  constructor(
    redis: Redis,
    private readonly options: { prefix: string; ratePerMinute: number; burst?: number },
  ) {
    if (options.ratePerMinute <= 0) throw new Error('ratePerMinute must be positive');
    this.redis = defineTakeToken(redis);
    this.burst = options.burst ?? Math.max(1, Math.ceil(options.ratePerMinute / 60));
  }

  /** Takes a token from `key`'s bucket: 0 when taken, else the ms until one is available (nothing taken). */
  async take(key: string): Promise<number> {
    return this.redis.rotorTakeToken(`${this.options.prefix}${key}`, this.options.ratePerMinute, this.burst);
  }
}

export class SharedRateLimiter {
  private waiting = 0;
  private readonly burst: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: SharedRateLimiterOptions,
  ) {
    if (options.ratePerMinute <= 0) throw new Error('ratePerMinute must be positive');
    this.burst = options.burst ?? Math.max(1, Math.ceil(options.ratePerMinute / 60));
    defineTakeToken(redis);
  }

  /** Callers of this process waiting for a token right now: > 0 means the rate is what limits them. */
  get queued(): number {
    return this.waiting;
  }

  /** Takes a token, waiting for one if needed; `onWait` runs once, before the first wait. */
  async acquire(onWait?: () => Promise<void> | void): Promise<void> {
    this.waiting++;
    let waited = false;
    try {
      for (;;) {
        let wait: number;
        try {
          wait = await (this.redis as Redis & TakeToken).rotorTakeToken(this.options.key, this.options.ratePerMinute, this.burst);
        } catch (error) {
          this.options.onRedisError?.(error);
          return await this.options.fallback.acquire(waited ? undefined : onWait);
        }
        if (wait <= 0) return;
        if (!waited) await onWait?.();
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      this.waiting--;
    }
  }
}
