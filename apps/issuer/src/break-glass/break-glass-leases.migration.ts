import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { scanKeys, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { ActiveLeases } from '../leases/active-leases';
import { isLive, type Lease } from '../leases/lease';
import { LeaseStore } from '../leases/lease.store';

import { BREAK_GLASS_RECORD_PATTERN, BREAK_GLASS_RECORD_RETENTION_MS, BreakGlassStore, type BreakGlassRecord } from './break-glass.store';

/** Where break-glass leases used to live: a made-up workload a real service account of that name could be. */
export const LEGACY_BREAK_GLASS_NAMESPACE = 'rotor-break-glass';

/**
 * Hands every break-glass lease issued before operators held them (to the stand-in workload
 * `rotor-break-glass/<label>`) to an operator holder, at start-up, so no service account of
 * that name can read, renew or revoke it, while it keeps working and counting until it ends.
 * Only a lease a break-glass record names is touched: a real workload in that namespace
 * cannot get its own lease re-labelled by choosing a `break-glass:` task. The operator's
 * subject was never stored, so the label stands in for it.
 *
 * In the same SCAN, a record written before `GET /v1/break-glass` (issue 16) gets into its index,
 * and gets what its role lease still says: the role, the holder as `requestedBy`, the issue time
 * as `openedAt`. Without a role lease, it is listed by its expiry (an upper bound of its opening).
 */
@Injectable()
export class BreakGlassLeasesMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly leases: LeaseStore,
    private readonly activeLeases: ActiveLeases,
    private readonly store: BreakGlassStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const upgraded = await this.run(new Date());
    if (upgraded > 0) this.logger.info({ upgraded }, 'break-glass leases handed from their stand-in workload to an operator holder');
  }

  /** Returns how many leases it upgraded. Idempotent. */
  async run(now: Date): Promise<number> {
    let upgraded = 0;
    for await (const key of scanKeys(this.redis, BREAK_GLASS_RECORD_PATTERN)) {
      const id = key.slice(key.lastIndexOf(':') + 1);
      const record = await this.store.get(id);
      const lease = record?.roleLeaseId ? await this.leases.get(record.roleLeaseId) : undefined;
      if (record && !(await this.store.isIndexed(id))) await this.index(id, record, lease);
      if (await this.upgrade(key, lease, now)) upgraded++;
    }
    return upgraded;
  }

  private async index(id: string, record: BreakGlassRecord, roleLease: Lease | undefined): Promise<void> {
    // Only the lease this access minted says anything about it.
    const lease = roleLease?.task === `break-glass:${id}` ? roleLease : undefined;
    const known: BreakGlassRecord = {
      ...record,
      ...(record.role === undefined && lease ? { role: lease.role } : {}),
      ...(record.requestedBy === undefined && lease?.holder.kind === 'operator' ? { requestedBy: lease.holder.subject } : {}),
      ...(record.openedAt === undefined && lease ? { openedAt: lease.issuedAt.toISOString() } : {}),
    };
    if (JSON.stringify(known) !== JSON.stringify(record)) await this.store.update(id, known);
    const expireAtMs = (await this.store.expireTimeMs(id)) ?? Date.parse(record.expiresAt) + BREAK_GLASS_RECORD_RETENTION_MS;
    await this.store.index(id, Date.parse(known.openedAt ?? known.expiresAt), expireAtMs);
  }

  private async upgrade(recordKey: string, lease: Lease | undefined, now: Date): Promise<boolean> {
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
