import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { execTransaction, type Redis } from '@rotor/redis-store';

export const COUNTERS = ['revoked', 'failed', 'rotated', 'delivered', 'retired'] as const;
export type EmergencyCounter = (typeof COUNTERS)[number];

/** Every key of one emergency rotation starts `revoker:emergency:{<id>}`: the id is the hash tag, so Redis Cluster keeps them in one slot. */
export const emergencyTag = (id: string) => `revoker:emergency:{${id}}`;
const counterKey = (id: string, counter: EmergencyCounter) => `${emergencyTag(id)}:${counter}`;
/** Kept for a week after the rotation, for GET (one set of keys per emergency, not per lease). */
export const KEEP_EMERGENCY_SECONDS = 7 * 86_400;

/**
 * The progress counts of emergency rotations, as sets of what was counted (lease ids,
 * secret names, secret:version:target): a counting step repeated after a crash or a
 * redelivered event adds nothing, where a blind HINCRBY would count twice.
 */
@Injectable()
export class EmergencyCounters {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async add(id: string, counter: EmergencyCounter, member: string): Promise<void> {
    await execTransaction(this.redis.multi().sadd(counterKey(id, counter), member).expire(counterKey(id, counter), KEEP_EMERGENCY_SECONDS));
  }

  /** A lease revoked after it had been counted as failed (irrevocable, then healed) counts as revoked only. */
  async leaseRevoked(id: string, leaseId: string): Promise<void> {
    await execTransaction(
      this.redis
        .multi()
        .sadd(counterKey(id, 'revoked'), leaseId)
        .srem(counterKey(id, 'failed'), leaseId)
        .expire(counterKey(id, 'revoked'), KEEP_EMERGENCY_SECONDS),
    );
  }

  async counts(id: string): Promise<Record<EmergencyCounter, number>> {
    const tx = this.redis.multi();
    for (const counter of COUNTERS) tx.scard(counterKey(id, counter));
    const results = await execTransaction(tx);
    return Object.fromEntries(COUNTERS.map((counter, index) => [counter, Number(results[index] ?? 0)])) as Record<EmergencyCounter, number>;
  }
}
