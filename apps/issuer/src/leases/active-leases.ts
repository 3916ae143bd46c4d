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
for _, key in ipairs(KEYS) do
  local at = redis.call('PEXPIRETIME', key)
  if at < tonumber(ARGV[2]) then redis.call('PEXPIREAT', key, ARGV[2]) end
end
return 'reserved'
`;

/**
 * Counts a lease in both sets (ZADD with ARGV[1]: XX moves an entry still counted, NX adds one
 * never overwriting), and keeps each set's own expiry at its latest entry's: a set whose leases
 * have all ended expires with them, even if no release ever comes. KEYS: role set, holder set.
 * ARGV: XX or NX, expiresAt, leaseId.
 */
const COUNT = `
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[2], ARGV[3])
  local latest = redis.call('ZRANGE', key, 0, 0, 'REV', 'WITHSCORES')[2]
  if latest then
    local at = redis.call('PEXPIRETIME', key)
    if at < tonumber(latest) then redis.call('PEXPIREAT', key, latest) end
  end
end
return 1
`;

/**
 * Drops the entries of ended leases from one set and gives it its latest entry's expiry (the
 * upgrade of sets written before they had one). KEYS: set. ARGV: now. Returns 1 when it changed the set's expiry.
 */
const TIDY = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local latest = redis.call('ZRANGE', KEYS[1], 0, 0, 'REV', 'WITHSCORES')[2]
if not latest then return 0 end
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(latest) then
  redis.call('PEXPIREAT', KEYS[1], latest)
  return 1
end
return 0
`;

export type Reservation = 'reserved' | 'workload' | 'role';

interface QuotaCommands {
  rotorReserveLease(roleKey: string, holderKey: string, ...args: (string | number)[]): Promise<Reservation>;
  rotorTidyLeases(key: string, now: number): Promise<number>;
  rotorCountLease(roleKey: string, holderKey: string, mode: 'XX' | 'NX', expiresAt: number, leaseId: string): Promise<number>;
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
    if (!('rotorCountLease' in redis)) redis.defineCommand('rotorCountLease', { numberOfKeys: 2, lua: COUNT });
    if (!('rotorTidyLeases' in redis)) redis.defineCommand('rotorTidyLeases', { numberOfKeys: 1, lua: TIDY });
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
    await this.countIn('XX', lease, expiresAt);
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
    await this.countIn('NX', lease, lease.expiresAt);
  }

  /** Prunes one active-lease set and sets its expiry to its latest entry's; true when the expiry changed. */
  async tidy(key: string, now: Date): Promise<boolean> {
    return (await (this.redis as Redis & QuotaCommands).rotorTidyLeases(key, now.getTime())) === 1;
  }

  private async countIn(mode: 'XX' | 'NX', lease: Pick<Lease, 'id' | 'role' | 'holder'>, expiresAt: Date): Promise<void> {
    await (this.redis as Redis & QuotaCommands).rotorCountLease(
      activeLeaseKeys.role(lease.role),
      activeLeaseKeys.holder(lease.role, holderOf(lease)),
      mode,
      expiresAt.getTime(),
      lease.id,
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
