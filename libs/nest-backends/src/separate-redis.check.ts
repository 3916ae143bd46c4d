import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { BackendRegistry, RedisAclBackend, runIdOf } from '@rotor/credential-backends';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

const CHECK_TIMEOUT_MS = 3_000;

/**
 * Refuses to start when ROTOR_REDIS_ACL_URL reaches the very Redis REDIS_URL does, which the
 * URLs alone cannot show (two DNS names, a proxy, a port forward): the two servers' run_ids
 * must differ. When either does not answer in time, the check is skipped and logged: readiness
 * reports that dependency anyway, and a boot must not wait on it.
 */
@Injectable()
export class SeparateRedisCheck implements OnApplicationBootstrap {
  constructor(
    private readonly registry: BackendRegistry,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const redisAcl = this.registry.find(RedisAclBackend);
    if (!redisAcl) return;
    let ids: (string | undefined)[];
    try {
      ids = await withTimeout(Promise.all([this.redis.info('server').then(runIdOf), redisAcl.serverRunId()]));
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message },
        'could not compare the redis-acl backend’s Redis with REDIS_URL’s; checking again is up to readiness',
      );
      return;
    }
    if (ids[0] !== undefined && ids[0] === ids[1])
      throw new Error(
        'ROTOR_REDIS_ACL_URL: reaches the same Redis server as REDIS_URL (same run_id): the redis-acl backend must not mint users on the Redis holding rotor’s own keys',
      );
  }
}

const withTimeout = <T>(work: Promise<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
