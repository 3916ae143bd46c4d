import { Inject, Injectable } from '@nestjs/common';

import type { Workload } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import { execTransaction, type Redis } from '@rotor/redis-store';

import { eventWorkload, type Lease } from './lease';

const RETAIN_AFTER_END_MS = 7 * 86_400_000;

const leaseKey = (id: string) => `issuer:lease:{${id}}`;
const tokenKey = (tokenHash: string) => `issuer:token:${tokenHash}`;
const idempotencyKey = (subject: string, key: string) => `issuer:idempotency:${subject}:${key}`;

/**
 * The issuer's lease records in its own Redis keys: what reads, renewals and introspection
 * need (the quotas' counts are ActiveLeases). The token itself is never stored, only its keyed hash.
 */
@Injectable()
export class LeaseStore {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async create(lease: Lease, tokenHash?: string): Promise<void> {
    const retainUntil = lease.maxExpiresAt.getTime() + RETAIN_AFTER_END_MS;
    await execTransaction(this.redis.multi().hset(leaseKey(lease.id), serialize(lease)).pexpireat(leaseKey(lease.id), retainUntil));
    // The token index is found by the token's hash and the lease by its id: two hash slots on Redis
    // Cluster, so no MULTI spans them. The lease first: an index entry never names a lease not written.
    if (tokenHash) await this.redis.set(tokenKey(tokenHash), lease.id, 'PXAT', retainUntil);
  }

  /** Undoes `create` when the issuance cannot be completed: the index first, so no entry outlives its lease. */
  async remove(lease: Lease, tokenHash?: string): Promise<void> {
    if (tokenHash) await this.redis.del(tokenKey(tokenHash));
    await this.redis.del(leaseKey(lease.id));
  }

  async get(id: string): Promise<Lease | undefined> {
    const fields = await this.redis.hgetall(leaseKey(id));
    return fields['id'] ? deserialize(fields) : undefined;
  }

  /** The lease of the first stored hash among `candidates` (a token's hash under each live key). */
  async findByTokenHash(candidates: readonly string[]): Promise<Lease | undefined> {
    // One GET at a time, not MGET: the keys hash to different cluster slots, and the first usually hits.
    for (const tokenHash of candidates) {
      const id = await this.redis.get(tokenKey(tokenHash));
      if (id) return this.get(id);
    }
    return undefined;
  }

  async updateExpiry(lease: Lease, expiresAt: Date): Promise<void> {
    await this.redis.hset(leaseKey(lease.id), 'expiresAt', expiresAt.toISOString());
  }

  /** Hands a lease to an operator (the upgrade of break-glass leases from their stand-in workload). */
  async setOperatorHolder(lease: Lease, subject: string): Promise<Lease> {
    const upgraded: Lease = { ...lease, holder: { kind: 'operator', subject } };
    const { workload, holder, holderSubject } = serialize(upgraded);
    await this.redis.hset(leaseKey(lease.id), { workload: workload!, holder: holder!, holderSubject: holderSubject! });
    return upgraded;
  }

  /** Idempotent: a lease already revoked stays as it was. */
  async markRevoked(lease: Lease, { at, reason }: { at: Date; reason: string }): Promise<void> {
    await this.redis.hset(leaseKey(lease.id), { state: 'revoked', revokedAt: at.toISOString(), revocationReason: reason });
  }

  /** Claims an Idempotency-Key for a caller; returns the lease id a previous request bound to it, if any. */
  async claimIdempotencyKey({
    subject,
    key,
    leaseId,
    ttlMs,
  }: {
    subject: string;
    key: string;
    leaseId: string;
    ttlMs: number;
  }): Promise<string | undefined> {
    const claimed = await this.redis.set(idempotencyKey(subject, key), leaseId, 'PX', ttlMs, 'NX');
    return claimed === 'OK' ? undefined : ((await this.redis.get(idempotencyKey(subject, key))) ?? undefined);
  }

  async releaseIdempotencyKey(subject: string, key: string): Promise<void> {
    await this.redis.del(idempotencyKey(subject, key));
  }
}

const serialize = (lease: Lease): Record<string, string> => ({
  id: lease.id,
  role: lease.role,
  owner: lease.owner,
  backend: lease.backend,
  // Older replicas read `workload` only: an operator's lease shows them one no workload can match.
  workload: JSON.stringify(eventWorkload(lease.holder)),
  ...(lease.holder.kind === 'operator' ? { holder: 'operator', holderSubject: lease.holder.subject } : {}),
  ...(lease.task ? { task: lease.task } : {}),
  issuedAt: lease.issuedAt.toISOString(),
  expiresAt: lease.expiresAt.toISOString(),
  maxExpiresAt: lease.maxExpiresAt.toISOString(),
  state: lease.state,
  handle: JSON.stringify(lease.handle),
});

const deserialize = (fields: Record<string, string>): Lease => ({
  id: fields['id']!,
  role: fields['role']!,
  owner: fields['owner']!,
  backend: fields['backend'] as Lease['backend'],
  holder:
    fields['holder'] === 'operator'
      ? { kind: 'operator', subject: fields['holderSubject']! }
      : { kind: 'workload', workload: JSON.parse(fields['workload']!) as Workload },
  ...(fields['task'] ? { task: fields['task'] } : {}),
  issuedAt: new Date(fields['issuedAt']!),
  expiresAt: new Date(fields['expiresAt']!),
  maxExpiresAt: new Date(fields['maxExpiresAt']!),
  state: fields['state'] as Lease['state'],
  ...(fields['revokedAt'] ? { revokedAt: new Date(fields['revokedAt']), revocationReason: fields['revocationReason'] } : {}),
  handle: JSON.parse(fields['handle']!) as Lease['handle'],
});
