import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { DueSchedule, type Redis } from '@rotor/redis-store';

import { REVOKER_CONFIG } from '../platform/tokens';
import type { RevokerConfig } from '../config';

import type { RevocationReason, TrackedLease, TrackedLeaseState } from './tracked-lease';

const leaseKey = (id: string) => `revoker:lease:{${id}}`;
const irrevocableKey = 'revoker:irrevocable';
/**
 * Renewals and revocation requests can be read before the lease's `issued` event: they come
 * on other topics, consumed concurrently. They wait here until the lease is tracked.
 */
const earlyKey = (id: string) => `revoker:early:{${id}}`;
const EARLY_TTL_SECONDS = 7 * 86_400;
/** How long a revoked lease's record is kept (dedupes late events about it). */
const KEEP_REVOKED_MS = 7 * 86_400_000;

/**
 * The TTL clock: one sorted-set schedule of lease expiries plus a hash per lease, all in
 * the revoker's own keys. Nothing lives in process memory, so a restart restores nothing.
 */
@Injectable()
export class LeaseClock {
  readonly schedule: DueSchedule;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REVOKER_CONFIG) config: RevokerConfig,
  ) {
    this.schedule = new DueSchedule(redis, { prefix: 'revoker:schedule:lease-expiry', shards: config.schedule.shards });
  }

  /** Records an issued or renewed lease and (re)schedules its expiry. Idempotent; never revives a revoked lease. */
  async track(tracked: Omit<TrackedLease, 'state' | 'attempts'>): Promise<void> {
    const existing = await this.get(tracked.id);
    if (existing && existing.state !== 'active') return;
    const early = existing ? {} : await this.redis.hgetall(earlyKey(tracked.id));
    const lease = early['expiresAt'] && new Date(early['expiresAt']) > tracked.expiresAt ? { ...tracked, expiresAt: new Date(early['expiresAt']) } : tracked;
    if (existing && existing.expiresAt.getTime() >= lease.expiresAt.getTime()) return; // an older event, replayed
    await this.redis.hset(leaseKey(lease.id), {
      id: lease.id,
      role: lease.role,
      owner: lease.owner,
      backend: lease.backend,
      workload: JSON.stringify(lease.workload),
      handle: JSON.stringify(lease.handle),
      expiresAt: lease.expiresAt.toISOString(),
      state: 'active',
      attempts: existing ? String(existing.attempts) : '0',
    });
    const requested = early['requestedReason'] as RevocationReason | undefined;
    if (requested) await this.redis.hset(leaseKey(lease.id), { requestedReason: requested, state: 'revoking' });
    await this.schedule.schedule(lease.id, requested ? Date.now() : lease.expiresAt.getTime());
    if (!existing) await this.redis.del(earlyKey(lease.id));
  }

  /** A renewal read before its lease's `issued` event: kept until the lease is tracked. */
  async rememberEarlyRenewal(leaseId: string, expiresAt: Date): Promise<void> {
    const previous = await this.redis.hget(earlyKey(leaseId), 'expiresAt');
    if (previous && new Date(previous) >= expiresAt) return;
    await this.redis.multi().hset(earlyKey(leaseId), 'expiresAt', expiresAt.toISOString()).expire(earlyKey(leaseId), EARLY_TTL_SECONDS).exec();
  }

  /** Asks for revocation now (early revocation, emergency). Unknown leases are remembered until their issue event arrives. */
  async requestNow(leaseId: string, reason: RevocationReason): Promise<boolean> {
    const existing = await this.get(leaseId);
    if (!existing) {
      await this.redis.multi().hset(earlyKey(leaseId), 'requestedReason', reason).expire(earlyKey(leaseId), EARLY_TTL_SECONDS).exec();
      return false;
    }
    if (existing.state === 'revoked') return true;
    await this.redis.hset(leaseKey(leaseId), { requestedReason: reason, state: existing.state === 'irrevocable' ? 'irrevocable' : 'revoking' });
    await this.schedule.schedule(leaseId, Date.now());
    return true;
  }

  async get(id: string): Promise<TrackedLease | undefined> {
    const fields = await this.redis.hgetall(leaseKey(id));
    if (!fields['id']) return undefined;
    return {
      id: fields['id'],
      role: fields['role']!,
      owner: fields['owner']!,
      backend: fields['backend'] as TrackedLease['backend'],
      workload: JSON.parse(fields['workload']!) as TrackedLease['workload'],
      handle: JSON.parse(fields['handle']!) as TrackedLease['handle'],
      expiresAt: new Date(fields['expiresAt']!),
      state: fields['state'] as TrackedLeaseState,
      ...(fields['requestedReason'] ? { requestedReason: fields['requestedReason'] as RevocationReason } : {}),
      attempts: Number(fields['attempts'] ?? 0),
      ...(fields['lastError'] ? { lastError: fields['lastError'] } : {}),
      ...(fields['revokedAt'] ? { revokedAt: new Date(fields['revokedAt']) } : {}),
    };
  }

  async markRevoked(id: string, at: Date): Promise<void> {
    await this.redis
      .multi()
      .hset(leaseKey(id), { state: 'revoked', revokedAt: at.toISOString() })
      .hdel(leaseKey(id), 'lastError')
      .pexpire(leaseKey(id), KEEP_REVOKED_MS)
      .zrem(irrevocableKey, id)
      .exec();
  }

  /** Records a failed attempt and when to try again; past the limit the lease is listed as irrevocable. */
  async recordFailure(id: string, { attempts, error, retryAt, irrevocable }: { attempts: number; error: string; retryAt: Date; irrevocable: boolean }): Promise<void> {
    const tx = this.redis.multi().hset(leaseKey(id), { attempts: String(attempts), lastError: error, state: irrevocable ? 'irrevocable' : 'revoking' });
    if (irrevocable) tx.zadd(irrevocableKey, Date.now(), id);
    await tx.exec();
    await this.schedule.schedule(id, retryAt.getTime());
  }

  async listIrrevocable(limit = 500): Promise<TrackedLease[]> {
    const ids = await this.redis.zrange(irrevocableKey, 0, limit - 1);
    const leases = await Promise.all(ids.map((id) => this.get(id)));
    return leases.filter((lease): lease is TrackedLease => !!lease);
  }

  async countIrrevocable(): Promise<number> {
    return this.redis.zcard(irrevocableKey);
  }
}
