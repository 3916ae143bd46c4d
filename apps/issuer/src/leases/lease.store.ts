import { Inject, Injectable, Optional } from '@nestjs/common';

import { DEFAULT_DEDUPE_WINDOW_SECONDS } from '@rotor/config';
import type { Workload } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import { execTransaction, type Redis } from '@rotor/redis-store';

import { DEDUPE_WINDOW_MS } from '../platform/tokens';

import { eventWorkload, type Lease } from './lease';

export const leaseKey = (id: string) => `issuer:lease:{${id}}`;
export const tokenKey = (tokenHash: string) => `issuer:token:${tokenHash}`;
const idempotencyKey = (subject: string, key: string) => `issuer:idempotency:${subject}:${key}`;
/** The lease record's field naming its token index entry (`issuer:token:<hash>`), so both end together. */
export const TOKEN_HASH_FIELD = 'tokenHash';

/**
 * HSET on a record that still exists (a write racing the record's expiry must not bring back a
 * partial record without a TTL), and, when ARGV[1] is not empty, an earlier expiry (never a later
 * one). KEYS: record. ARGV: expireAtMs or '', field, value, … Returns 1 when written.
 */
const HSET_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[1], 'LT') end
return 1
`;

interface StoreCommands {
  rotorHsetIfExists(key: string, expireAtMs: string, ...fieldsAndValues: string[]): Promise<number>;
}

/**
 * The issuer's lease records in its own Redis keys: what reads, renewals and introspection
 * need (the quotas' counts are ActiveLeases). The token itself is never stored, only its keyed hash.
 */
@Injectable()
export class LeaseStore {
  /** ROTOR_DEDUPE_WINDOW_SECONDS: how long a lease's records outlive it. */
  readonly windowMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Optional() @Inject(DEDUPE_WINDOW_MS) windowMs?: number,
  ) {
    this.windowMs = windowMs ?? DEFAULT_DEDUPE_WINDOW_SECONDS * 1000;
    if (!('rotorHsetIfExists' in redis)) redis.defineCommand('rotorHsetIfExists', { numberOfKeys: 1, lua: HSET_IF_EXISTS });
  }

  /** When a lease's records expire unless its revocation ends them sooner: its latest possible end plus the window. */
  retainUntil(lease: Pick<Lease, 'maxExpiresAt'>): number {
    return lease.maxExpiresAt.getTime() + this.windowMs;
  }

  async create(lease: Lease, tokenHash?: string): Promise<void> {
    const retainUntil = this.retainUntil(lease);
    const fields = { ...serialize(lease), ...(tokenHash ? { [TOKEN_HASH_FIELD]: tokenHash } : {}) };
    await execTransaction(this.redis.multi().hset(leaseKey(lease.id), fields).pexpireat(leaseKey(lease.id), retainUntil));
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
    await this.hsetIfExists(lease.id, { expiresAt: expiresAt.toISOString() });
  }

  /** Hands a lease to an operator (the upgrade of break-glass leases from their stand-in workload). */
  async setOperatorHolder(lease: Lease, subject: string): Promise<Lease> {
    const upgraded: Lease = { ...lease, holder: { kind: 'operator', subject } };
    const { workload, holder, holderSubject } = serialize(upgraded);
    await this.hsetIfExists(lease.id, { workload: workload!, holder: holder!, holderSubject: holderSubject! });
    return upgraded;
  }

  /**
   * Records the revocation and shortens the lease's records to the dedupe window from `at`: an
   * ended lease is history, kept only while late events about it may still arrive. The token
   * index first (another hash slot): a crash before the record says revoked leaves the
   * redelivered event to do both again. Never lengthens a TTL.
   */
  async markRevoked(lease: Lease, { at, reason }: { at: Date; reason: string }): Promise<void> {
    const until = at.getTime() + this.windowMs;
    const tokenHash = await this.redis.hget(leaseKey(lease.id), TOKEN_HASH_FIELD);
    if (tokenHash) await this.redis.pexpireat(tokenKey(tokenHash), until, 'LT');
    await this.hsetIfExists(lease.id, { state: 'revoked', revokedAt: at.toISOString(), revocationReason: reason }, until);
  }

  /** Names a record's token index entry (the upgrade of records written before they did); nothing if the record is gone. */
  async nameTokenEntry(id: string, tokenHash: string): Promise<void> {
    await this.hsetIfExists(id, { [TOKEN_HASH_FIELD]: tokenHash });
  }

  private async hsetIfExists(id: string, fields: Record<string, string>, expireAtMs?: number): Promise<boolean> {
    const written = await (this.redis as Redis & StoreCommands).rotorHsetIfExists(
      leaseKey(id),
      expireAtMs === undefined ? '' : String(expireAtMs),
      ...Object.entries(fields).flat(),
    );
    return written === 1;
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
