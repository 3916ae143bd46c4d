import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { DueSchedule, execTransaction, type Redis } from '@rotor/redis-store';
import { traceparentOf } from '@rotor/telemetry';

import { REVOKER_CONFIG } from '../platform/tokens';
import type { RevokerConfig } from '../config';

import type { RevocationReason, TrackedLease, TrackedLeaseState } from './tracked-lease';

export const leaseKey = (id: string) => `revoker:lease:{${id}}`;

/**
 * Sets of unrevoked lease ids by workload, role and backend, for emergency rotations, and of
 * the leases whose token named a pod (`pod-bound`, for the pod sweep). Each set is its own
 * hash tag (one slot on Redis Cluster); large ones are read with SSCAN. Maintained here, not
 * in scripts spanning slots: added before the lease record is written (a crash in between is
 * repaired by the redelivered event), removed once it is revoked.
 */
export type LeaseIndex = 'all' | 'pod-bound' | `ns:${string}` | `sa:${string}/${string}` | `role:${string}` | `backend:${string}`;
export const leaseIndexKey = (index: LeaseIndex) => `revoker:index:{${index}}`;
const indexesOf = (lease: Pick<TrackedLease, 'role' | 'backend' | 'workload'>): LeaseIndex[] => [
  'all',
  `ns:${lease.workload.namespace}`,
  `sa:${lease.workload.namespace}/${lease.workload.serviceAccount}`,
  `role:${lease.role}`,
  `backend:${lease.backend}`,
  ...(lease.workload.podName ? (['pod-bound'] as const) : []),
];
const irrevocableKey = 'revoker:irrevocable';
/**
 * Leases whose last attempt met their backend unreachable, by backend: they are tried again
 * as soon as the backend answers, not at their backoff (BackendRecovery).
 */
const outageWaitersKey = (backend: string) => `revoker:outage-waiters:{${backend}}`;
/**
 * Renewals and revocation requests can be read before the lease's `issued` event: they come
 * on other topics, consumed concurrently. They wait here until the lease is tracked.
 */
const earlyKey = (id: string) => `revoker:early:{${id}}`;
const EARLY_TTL_SECONDS = 7 * 86_400;
/**
 * How long an expiry that passed before the lease was first read waits (see LeaseClock.dueAt):
 * well above the time between reading two topics' events of one fetch, and a delay only a
 * revoker that fell behind by more than the lease's TTL ever adds.
 */
const LATE_READ_GRACE_MS = 1_000;

/** A live lease whose token named a pod, as the pod sweep sees it. */
export interface PodBoundLease {
  id: string;
  namespace: string;
  podName: string;
  /** The pod's uid from the token; a new pod with the same name has another. */
  podUid?: string;
  /** Absent in records tracked before the revoker kept it. */
  issuedAt?: Date;
  requestedReason?: RevocationReason;
}

export interface FailedAttempt {
  attempts: number;
  error: string;
  retryAt: Date;
  irrevocable: boolean;
  /** The backend could not be reached (a dependency outage), rather than refusing the revocation. */
  awaitingBackend: boolean;
}

/**
 * The TTL clock: one sorted-set schedule of lease expiries plus a hash per lease, all in
 * the revoker's own keys. Nothing lives in process memory, so a restart restores nothing.
 */
@Injectable()
export class LeaseClock {
  readonly schedule: DueSchedule;
  /** How long a revoked lease's record is kept (ROTOR_DEDUPE_WINDOW_SECONDS): it dedupes late events about it. */
  readonly keepRevokedMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REVOKER_CONFIG) config: RevokerConfig,
  ) {
    this.keepRevokedMs = config.dedupeWindowMs;
    this.schedule = new DueSchedule(redis, { prefix: 'revoker:schedule:lease-expiry', shards: config.schedule.shards });
  }

  /** Records an issued or renewed lease and (re)schedules its expiry. Idempotent; never revives a revoked lease. */
  async track(tracked: Omit<TrackedLease, 'state' | 'attempts' | 'traceparent'>): Promise<void> {
    // Read together (one round trip with auto-pipelining); what was read early matters only to a new lease.
    const [existing, pending] = await Promise.all([this.get(tracked.id), this.redis.hgetall(earlyKey(tracked.id))]);
    if (existing && existing.state !== 'active') return;
    const early = existing ? {} : pending;
    const lease =
      early['expiresAt'] && new Date(early['expiresAt']) > tracked.expiresAt
        ? { ...tracked, expiresAt: new Date(early['expiresAt']) }
        : tracked;
    if (existing && existing.expiresAt.getTime() >= lease.expiresAt.getTime()) {
      // An older event, replayed, or this one redelivered after a crash cut it short: the
      // record is there, make sure its expiry is too (a no-op when it is due or claimed).
      await this.schedule.scheduleIfAbsent(lease.id, existing.expiresAt.getTime());
      return;
    }
    if (!existing) await this.addToIndexes(lease);
    const requested = early['requestedReason'] as RevocationReason | undefined;
    // A renewal keeps the issuance's trace: one trace per credential's life.
    const traceparent = existing ? existing.traceparent : traceparentOf();
    const recorded = this.redis.hset(leaseKey(lease.id), {
      id: lease.id,
      role: lease.role,
      owner: lease.owner,
      backend: lease.backend,
      workload: JSON.stringify(lease.workload),
      handle: JSON.stringify(lease.handle),
      expiresAt: lease.expiresAt.toISOString(),
      ...(lease.issuedAt ? { issuedAt: lease.issuedAt.toISOString() } : {}),
      state: requested ? 'revoking' : 'active',
      attempts: existing ? String(existing.attempts) : '0',
      ...(requested ? { requestedReason: requested } : {}),
      ...(early['emergencyId'] ? { emergencyId: early['emergencyId'] } : {}),
      ...(traceparent ? { traceparent } : {}),
    });
    // Sent together, in this order (Redis runs them so): a schedule whose record write failed
    // finds no record and ends, and the redelivered event writes both again.
    await Promise.all([
      recorded,
      this.schedule.schedule(lease.id, requested ? Date.now() : this.dueAt(lease.expiresAt, !existing)),
      ...(existing ? [] : [this.redis.del(earlyKey(lease.id))]),
    ]);
  }

  /**
   * When a lease's expiry revocation comes due. A lease first read after its expiry (the
   * revoker was behind) gets a short grace: its renewal, on another topic of the same group,
   * may be read just after its `issued` event, and must win over an expiry that already passed.
   */
  private dueAt(expiresAt: Date, firstRead: boolean): number {
    const now = Date.now();
    return firstRead && expiresAt.getTime() <= now ? now + LATE_READ_GRACE_MS : expiresAt.getTime();
  }

  /** A renewal read before its lease's `issued` event: kept until the lease is tracked. */
  async rememberEarlyRenewal(leaseId: string, expiresAt: Date): Promise<void> {
    const previous = await this.redis.hget(earlyKey(leaseId), 'expiresAt');
    if (previous && new Date(previous) >= expiresAt) return;
    await execTransaction(
      this.redis.multi().hset(earlyKey(leaseId), 'expiresAt', expiresAt.toISOString()).expire(earlyKey(leaseId), EARLY_TTL_SECONDS),
    );
  }

  /**
   * Asks for revocation now (early revocation, emergency). Unknown leases are remembered until
   * their issue event arrives. `emergencyId` names the emergency rotation whose progress
   * counts this lease once it is revoked (or becomes irrevocable).
   */
  async requestNow(leaseId: string, reason: RevocationReason, emergencyId?: string): Promise<boolean> {
    const tagged = emergencyId ? { emergencyId } : {};
    const existing = await this.get(leaseId);
    if (!existing) {
      await execTransaction(
        this.redis
          .multi()
          .hset(earlyKey(leaseId), { requestedReason: reason, ...tagged })
          .expire(earlyKey(leaseId), EARLY_TTL_SECONDS),
      );
      return false;
    }
    if (existing.state === 'revoked') return true;
    await this.redis.hset(leaseKey(leaseId), {
      requestedReason: reason,
      state: existing.state === 'irrevocable' ? 'irrevocable' : 'revoking',
      ...tagged,
    });
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
      ...(fields['issuedAt'] ? { issuedAt: new Date(fields['issuedAt']) } : {}),
      state: fields['state'] as TrackedLeaseState,
      ...(fields['requestedReason'] ? { requestedReason: fields['requestedReason'] as RevocationReason } : {}),
      attempts: Number(fields['attempts'] ?? 0),
      ...(fields['lastError'] ? { lastError: fields['lastError'] } : {}),
      ...(fields['revokedAt'] ? { revokedAt: new Date(fields['revokedAt']) } : {}),
      ...(fields['emergencyId'] ? { emergencyId: fields['emergencyId'] } : {}),
      ...(fields['traceparent'] ? { traceparent: fields['traceparent'] } : {}),
    };
  }

  async markRevoked(lease: TrackedLease, at: Date): Promise<void> {
    // The irrevocable list and the lease are two hash slots on Redis Cluster: no MULTI spans them. The
    // list first: a crash before the lease says revoked leaves its claim to come back and run this again.
    await this.redis.zrem(irrevocableKey, lease.id);
    await execTransaction(
      this.redis
        .multi()
        .hset(leaseKey(lease.id), { state: 'revoked', revokedAt: at.toISOString() })
        .hdel(leaseKey(lease.id), 'lastError')
        .pexpire(leaseKey(lease.id), this.keepRevokedMs),
    );
    await this.removeFromIndexes(lease);
  }

  /** Idempotent: also called for a lease found already revoked, in case a crash cut markRevoked short. */
  async removeFromIndexes(lease: Pick<TrackedLease, 'id' | 'role' | 'backend' | 'workload'>): Promise<void> {
    // One command per index, sent together: each index is its own hash slot (a cluster pipeline stays on one node).
    await Promise.all(indexesOf(lease).map((index) => this.redis.srem(leaseIndexKey(index), lease.id)));
  }

  private async addToIndexes(lease: Pick<TrackedLease, 'id' | 'role' | 'backend' | 'workload'>): Promise<void> {
    await Promise.all(indexesOf(lease).map((index) => this.redis.sadd(leaseIndexKey(index), lease.id)));
  }

  /** One page of an index (SSCAN): resume with the returned cursor until it is '0'. */
  async scanIndex(index: LeaseIndex, cursor: string, count: number): Promise<[string, string[]]> {
    return this.redis.sscan(leaseIndexKey(index), cursor, 'COUNT', count);
  }

  /** What an emergency selector filters on, for many leases in one round trip; undefined for unknown ids. */
  async matchFields(ids: string[]): Promise<(Pick<TrackedLease, 'role' | 'backend' | 'workload'> | undefined)[]> {
    // One HMGET per lease, sent together: the leases are spread over the hash slots.
    const results = await Promise.all(
      ids.map((id) => this.redis.hmget(leaseKey(id), 'role', 'backend', 'workload', 'state').catch(() => undefined)),
    );
    return results.map((value) => {
      const [role, backend, workload, state] = value ?? [];
      if (!role || !backend || !workload || state === 'revoked') return undefined;
      return { role, backend: backend as TrackedLease['backend'], workload: JSON.parse(workload) as TrackedLease['workload'] };
    });
  }

  /** Adds an unrevoked lease tracked before the `pod-bound` index existed to it (RevokedLeasesMigration); true if it was not there. */
  async indexPodBound(id: string): Promise<boolean> {
    return (await this.redis.sadd(leaseIndexKey('pod-bound'), id)) === 1;
  }

  /**
   * What the pod sweep judges a lease by, for many leases in one round trip; undefined for
   * unknown or revoked ids and for leases whose workload names no pod.
   */
  async podFields(ids: string[]): Promise<(PodBoundLease | undefined)[]> {
    const results = await Promise.all(
      ids.map((id) => this.redis.hmget(leaseKey(id), 'workload', 'state', 'issuedAt', 'requestedReason').catch(() => undefined)),
    );
    return results.map((value, index) => {
      const [workload, state, issuedAt, requestedReason] = value ?? [];
      if (!workload || !state || state === 'revoked') return undefined;
      const parsed = JSON.parse(workload) as TrackedLease['workload'];
      if (!parsed.podName) return undefined;
      return {
        id: ids[index]!,
        namespace: parsed.namespace,
        podName: parsed.podName,
        ...(parsed.podUid ? { podUid: parsed.podUid } : {}),
        ...(issuedAt ? { issuedAt: new Date(issuedAt) } : {}),
        ...(requestedReason ? { requestedReason: requestedReason as RevocationReason } : {}),
      };
    });
  }

  /**
   * Records a failed attempt and when to try again; past the limit the lease is listed as
   * irrevocable. A lease whose backend was unreachable (`awaitingBackend`) also waits for it
   * to answer again, which brings its retry forward.
   */
  async recordFailure(
    lease: Pick<TrackedLease, 'id' | 'backend'>,
    { attempts, error, retryAt, irrevocable, awaitingBackend }: FailedAttempt,
  ): Promise<void> {
    const { id } = lease;
    await this.redis.hset(leaseKey(id), { attempts: String(attempts), lastError: error, state: irrevocable ? 'irrevocable' : 'revoking' });
    // Other hash slots than the lease's: a crash before these leaves the lease's claim to come back and retry.
    if (irrevocable) await this.redis.zadd(irrevocableKey, Date.now(), id);
    if (awaitingBackend) await this.redis.zadd(outageWaitersKey(lease.backend), Date.now(), id);
    await this.schedule.schedule(id, retryAt.getTime());
  }

  async hasOutageWaiters(backend: string): Promise<boolean> {
    return (await this.redis.zcard(outageWaitersKey(backend))) > 0;
  }

  /**
   * Brings the retries of the leases waiting for `backend` forward to now, at most `limit` of
   * them, and forgets them; returns how many were taken. A lease meanwhile revoked, or claimed
   * again, is left as it is.
   */
  async resumeOutageWaiters(backend: string, limit: number): Promise<number> {
    const key = outageWaitersKey(backend);
    const ids = await this.redis.zrange(key, 0, limit - 1);
    if (ids.length === 0) return 0;
    const now = Date.now();
    for (const id of ids) await this.schedule.advance(id, now);
    await this.redis.zrem(key, ...ids);
    return ids.length;
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
