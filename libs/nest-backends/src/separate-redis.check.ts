import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { withTimeout } from '@rotor/backoff';
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
      ids = await withTimeout(Promise.all([this.redis.info('server').then(runIdOf), redisAcl.serverRunId()]), CHECK_TIMEOUT_MS);
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
