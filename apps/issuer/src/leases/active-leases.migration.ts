import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { allKeys, runLayoutUpgrade, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { ActiveLeases } from './active-leases';
import { isLive } from './lease';
import { LeaseStore } from './lease.store';

/**
 * The previous layout: `issuer:active:role:<role>` and `issuer:active:workload:<ns>/<sa>`
 * (the latter across all roles), sorted sets of lease ids by expiry, in no shared hash slot.
 */
const LEGACY_PATTERNS = ['issuer:active:role:*', 'issuer:active:workload:*'];

export interface MigrationResult {
  /** Old entries of live leases, now counted in the current layout (a lease had an entry in two old sets). */
  moved: number;
  /** Entries of ended or unknown leases, dropped. */
  dropped: number;
}

/**
 * Upgrades the active-lease counts from the previous layout at start-up, so leases issued
 * before the upgrade keep counting against the quotas until they end. Idempotent and safe to
 * run on several replicas at once: each entry is counted (never overwriting a newer one) and
 * only then removed from the old set, so an entry an older replica adds during a rolling
 * upgrade is left for the next start to move.
 */
@Injectable()
export class ActiveLeasesMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly leases: LeaseStore,
    private readonly activeLeases: ActiveLeases,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const result = await runLayoutUpgrade(this.redis, 'issuer:layout-upgrade:active-leases', () => this.run(new Date()));
    if (result && result.moved + result.dropped > 0)
      this.logger.info({ ...result }, 'active-lease counts moved from the previous Redis layout');
  }

  async run(now: Date): Promise<MigrationResult> {
    const result: MigrationResult = { moved: 0, dropped: 0 };
    for (const pattern of LEGACY_PATTERNS) {
      for (const key of await allKeys(this.redis, pattern)) {
        for (const id of await this.redis.zrange(key, 0, -1)) {
          const lease = await this.leases.get(id);
          if (lease && isLive(lease, now)) {
            await this.activeLeases.adopt(lease);
            result.moved++;
          } else result.dropped++;
          await this.redis.zrem(key, id);
        }
      }
    }
    return result;
  }
}
