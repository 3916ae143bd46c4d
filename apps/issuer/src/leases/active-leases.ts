import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { execTransaction, type Redis } from '@rotor/redis-store';

import type { Lease } from './lease';

/**
 * Every key of one role shares the hash tag `{role:<name>}`, so the quota script touches a
 * single slot and runs unchanged on Redis Cluster.
 */
export const activeLeaseKeys = {
  role: (role: string) => `issuer:active:{role:${role}}:all`,
  holder: (role: string, holder: string) => `issuer:active:{role:${role}}:holder:${holder}`,
};

/** The per-role quota's unit: one workload (namespace/service account), or one operator (break-glass). */
export const holderOf = ({ holder }: Pick<Lease, 'holder'>): string =>
  holder.kind === 'workload' ? `workload:${holder.workload.namespace}/${holder.workload.serviceAccount}` : `operator:${holder.subject}`;

/**
 * Checks both quotas and reserves the lease in one step, so concurrent requests cannot all
 * pass the check before any of them is counted. Entries whose expiry has passed are pruned
 * first: a lease counts while it is live, and its TTL ends that without anyone's help.
 * KEYS: role set, holder set. ARGV: now, expiresAt, leaseId, perHolder, perRole.
 */
const RESERVE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 'workload' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 'role' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 'reserved'
`;

export type Reservation = 'reserved' | 'workload' | 'role';

interface QuotaCommands {
  rotorReserveLease(roleKey: string, holderKey: string, ...args: (string | number)[]): Promise<Reservation>;
}

/**
 * The issuer's count of live leases per role and per workload within the role: what the
 * quotas are checked against. A lease is reserved before its credential is minted and
 * released when issuance is undone, when it is revoked, or by its expiry.
 */
@Injectable()
export class ActiveLeases {
  constructor(@Inject(REDIS) private readonly redis: Redis) {
    if (!('rotorReserveLease' in redis)) redis.defineCommand('rotorReserveLease', { numberOfKeys: 2, lua: RESERVE });
  }

  async reserve(
    lease: Pick<Lease, 'id' | 'role' | 'holder' | 'expiresAt'>,
    quota: { perWorkload: number; perRole: number },
    now: Date,
  ): Promise<Reservation> {
    return (this.redis as Redis & QuotaCommands).rotorReserveLease(
      activeLeaseKeys.role(lease.role),
      activeLeaseKeys.holder(lease.role, holderOf(lease)),
      now.getTime(),
      lease.expiresAt.getTime(),
      lease.id,
      quota.perWorkload,
      quota.perRole,
    );
  }

  /** A renewal moves the lease's end; a lease no longer counted (revoked meanwhile) stays uncounted. */
  async extend(lease: Pick<Lease, 'id' | 'role' | 'holder'>, expiresAt: Date): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .zadd(activeLeaseKeys.role(lease.role), 'XX', expiresAt.getTime(), lease.id)
        .zadd(activeLeaseKeys.holder(lease.role, holderOf(lease)), 'XX', expiresAt.getTime(), lease.id),
    );
  }

  /** Idempotent. */
  async release(lease: Pick<Lease, 'id' | 'role' | 'holder'>): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .zrem(activeLeaseKeys.role(lease.role), lease.id)
        .zrem(activeLeaseKeys.holder(lease.role, holderOf(lease)), lease.id),
    );
  }

  /** Counts a lease that already exists (the upgrade from the previous layout); never overwrites a newer entry. */
  async adopt(lease: Pick<Lease, 'id' | 'role' | 'holder' | 'expiresAt'>): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .zadd(activeLeaseKeys.role(lease.role), 'NX', lease.expiresAt.getTime(), lease.id)
        .zadd(activeLeaseKeys.holder(lease.role, holderOf(lease)), 'NX', lease.expiresAt.getTime(), lease.id),
    );
  }

  async count(lease: Pick<Lease, 'role' | 'holder'>, now: Date): Promise<{ role: number; workload: number }> {
    const min = `(${now.getTime()}`;
    const [role, workload] = await Promise.all([
      this.redis.zcount(activeLeaseKeys.role(lease.role), min, '+inf'),
      this.redis.zcount(activeLeaseKeys.holder(lease.role, holderOf(lease)), min, '+inf'),
    ]);
    return { role, workload };
  }
}
