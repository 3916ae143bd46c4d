import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { scanKeys, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { ActiveLeases } from '../leases/active-leases';
import { isLive } from '../leases/lease';
import { LeaseStore } from '../leases/lease.store';

import { BREAK_GLASS_RECORD_PATTERN } from './break-glass.service';

/** Where break-glass leases used to live: a made-up workload a real service account of that name could be. */
export const LEGACY_BREAK_GLASS_NAMESPACE = 'rotor-break-glass';

/**
 * Hands every break-glass lease issued before operators held them (to the stand-in workload
 * `rotor-break-glass/<label>`) to an operator holder, at start-up, so no service account of
 * that name can read, renew or revoke it, while it keeps working and counting until it ends.
 * Only a lease a break-glass record names is touched: a real workload in that namespace
 * cannot get its own lease re-labelled by choosing a `break-glass:` task. The operator's
 * subject was never stored, so the label stands in for it.
 */
@Injectable()
export class BreakGlassLeasesMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly leases: LeaseStore,
    private readonly activeLeases: ActiveLeases,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const upgraded = await this.run(new Date());
    if (upgraded > 0) this.logger.info({ upgraded }, 'break-glass leases handed from their stand-in workload to an operator holder');
  }

  /** Returns how many leases it upgraded. Idempotent. */
  async run(now: Date): Promise<number> {
    let upgraded = 0;
    for await (const key of scanKeys(this.redis, BREAK_GLASS_RECORD_PATTERN)) if (await this.upgrade(key, now)) upgraded++;
    return upgraded;
  }

  private async upgrade(recordKey: string, now: Date): Promise<boolean> {
    const text = await this.redis.get(recordKey);
    const roleLeaseId = text ? (JSON.parse(text) as { roleLeaseId?: string }).roleLeaseId : undefined;
    const lease = roleLeaseId ? await this.leases.get(roleLeaseId) : undefined;
    if (
      !lease ||
      lease.holder.kind !== 'workload' ||
      lease.holder.workload.namespace !== LEGACY_BREAK_GLASS_NAMESPACE ||
      lease.task !== `break-glass:${recordKey.slice(recordKey.lastIndexOf(':') + 1)}`
    )
      return false;
    const upgradedLease = await this.leases.setOperatorHolder(lease, lease.holder.workload.serviceAccount);
    if (isLive(lease, now)) {
      await this.activeLeases.release(lease);
      await this.activeLeases.adopt(upgradedLease);
    }
    return true;
  }
}
