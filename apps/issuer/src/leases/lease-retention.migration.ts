import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { forEachKey, runLayoutUpgrade, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { ActiveLeases } from './active-leases';
import { leaseKey, LeaseStore, TOKEN_HASH_FIELD } from './lease.store';

export interface RetentionMigrationResult {
  /** Lease records whose expiry was set or brought forward (revoked: to revokedAt + the window). */
  leases: number;
  /** Token index entries now named by their lease record, and expiring no later than it. */
  tokens: number;
  /** Keys deleted: token entries of leases gone, records past their window, and records too partial to read. */
  deleted: number;
  /** Handled rotation-request ids, now forgotten after the window. */
  handled: number;
  /** Active-lease sets given their latest entry's expiry. */
  activeSets: number;
}

/**
 * Upgrades the issuer's keys written before Redis held only live state (issue 19): lease
 * records and token index entries were kept a week past the lease's latest possible end,
 * revoked or not, and the record did not name its token entry, so a revocation could not end
 * both; handled rotation requests were kept a week; the active-lease sets had no expiry.
 * Every key gets a TTL no later than what the current layout gives it: a revoked lease's
 * `revokedAt` + ROTOR_DEDUPE_WINDOW_SECONDS, any other its max expiry + the window. Nothing
 * live is lost: a live lease keeps its record, its token entry and its count. Idempotent and
 * safe on several replicas at once (it only adds a field a record lacks and never lengthens a TTL).
 */
@Injectable()
export class LeaseRetentionMigration implements OnApplicationBootstrap {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly leases: LeaseStore,
    private readonly activeLeases: ActiveLeases,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const result = await runLayoutUpgrade(this.redis, 'issuer:layout-upgrade:lease-retention', () => this.run(new Date()));
    if (result && Object.values(result).some((count) => count > 0))
      this.logger.info({ ...result }, 'issuer keys given the live-state retention');
  }

  async run(now: Date): Promise<RetentionMigrationResult> {
    const result: RetentionMigrationResult = { leases: 0, tokens: 0, deleted: 0, handled: 0, activeSets: 0 };
    // Records first: a token entry then expires with its record as the record now stands.
    await forEachKey(this.redis, 'issuer:lease:{*', (key) => this.upgradeLease(key, now, result));
    await forEachKey(this.redis, 'issuer:token:*', (key) => this.upgradeToken(key, result));
    await forEachKey(this.redis, 'issuer:rotation-request:*', async (key) => {
      if (await this.redis.pexpireat(key, now.getTime() + this.leases.windowMs, 'LT')) result.handled++;
    });
    await forEachKey(this.redis, 'issuer:active:{role:*', async (key) => {
      if (await this.activeLeases.tidy(key, now)) result.activeSets++;
    });
    return result;
  }

  private async upgradeLease(key: string, now: Date, result: RetentionMigrationResult): Promise<void> {
    const [id, state, revokedAt, maxExpiresAt] = await this.redis.hmget(key, 'id', 'state', 'revokedAt', 'maxExpiresAt');
    if (!id || !maxExpiresAt) {
      // Unreadable (a write that raced the record's expiry): no lease can be found in it.
      if (await this.redis.del(key)) result.deleted++;
      return;
    }
    const until =
      state === 'revoked' && revokedAt
        ? new Date(revokedAt).getTime() + this.leases.windowMs
        : this.leases.retainUntil({ maxExpiresAt: new Date(maxExpiresAt) });
    // Already past: its window is over (never a live lease, whose max expiry is still ahead).
    if (until <= now.getTime()) {
      if (await this.redis.del(key)) result.deleted++;
    } else if (await this.redis.pexpireat(key, until, 'LT')) result.leases++;
  }

  private async upgradeToken(key: string, result: RetentionMigrationResult): Promise<void> {
    const id = await this.redis.get(key);
    const [recordId, named] = id ? await this.redis.hmget(leaseKey(id), 'id', TOKEN_HASH_FIELD) : [];
    if (!id || !recordId) {
      // Its lease record is gone: the entry can only answer `inactive`, as its absence does.
      if (await this.redis.del(key)) result.deleted++;
      return;
    }
    if (!named) await this.leases.nameTokenEntry(recordId, key.slice('issuer:token:'.length));
    const recordExpiresAt = await this.redis.pexpiretime(leaseKey(id));
    if (recordExpiresAt > 0) await this.redis.pexpireat(key, recordExpiresAt, 'LT');
    result.tokens++;
  }
}
