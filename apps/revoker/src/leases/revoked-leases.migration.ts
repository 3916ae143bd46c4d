import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { forEachKey, runLayoutUpgrade, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { LeaseClock } from './lease-clock';

export interface RevokedLeasesMigrationResult {
  /** Revoked leases' records now expiring at `revokedAt` + the window (they were kept a week). */
  shortened: number;
  /** Records deleted: revoked past the window, or too partial to read. */
  deleted: number;
  /** Unrevoked leases naming a pod, added to the `pod-bound` index (tracked before it existed). */
  podIndexed: number;
}

/**
 * Upgrades the revoker's lease records written before Redis held only live state (issue 19): a
 * revoked lease's record was kept a week; now ROTOR_DEDUPE_WINDOW_SECONDS from its revocation.
 * Records of unrevoked leases (active, revoking, irrevocable) are the clock itself and are not
 * touched, except that those naming a pod join the `pod-bound` index the pod sweep reads
 * (issue 17), which older versions did not keep. Idempotent and safe on several replicas at
 * once: it never lengthens a TTL.
 */
@Injectable()
export class RevokedLeasesMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly clock: LeaseClock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const result = await runLayoutUpgrade(this.redis, 'revoker:layout-upgrade:revoked-leases', () => this.run(new Date()));
    if (result && result.shortened + result.deleted + result.podIndexed > 0)
      this.logger.info({ ...result }, 'revoked leases given the live-state retention, pod-bound leases indexed');
  }

  async run(now: Date): Promise<RevokedLeasesMigrationResult> {
    const result: RevokedLeasesMigrationResult = { shortened: 0, deleted: 0, podIndexed: 0 };
    await forEachKey(this.redis, 'revoker:lease:{*', (key) => this.upgrade(key, now, result));
    return result;
  }

  private async upgrade(key: string, now: Date, result: RevokedLeasesMigrationResult): Promise<void> {
    const [id, state, revokedAt, workload] = await this.redis.hmget(key, 'id', 'state', 'revokedAt', 'workload');
    if (!id) {
      // A write that raced the record's expiry: nothing the clock can read, nothing scheduled by it.
      if (await this.redis.del(key)) result.deleted++;
      return;
    }
    if (state !== 'revoked') {
      if (workload && (JSON.parse(workload) as { podName?: string }).podName && (await this.clock.indexPodBound(id))) result.podIndexed++;
      return;
    }
    const until = (revokedAt ? new Date(revokedAt).getTime() : now.getTime()) + this.clock.keepRevokedMs;
    if (until <= now.getTime()) {
      if (await this.redis.del(key)) result.deleted++;
    } else if (await this.redis.pexpireat(key, until, 'LT')) result.shortened++;
  }
}
