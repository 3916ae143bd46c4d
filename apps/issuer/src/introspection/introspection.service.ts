import { Injectable } from '@nestjs/common';

import { createEvent, Topics, type Actor } from '@rotor/contracts';
import type { Caller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';

import { isLive } from '../leases/lease';
import { LeaseRepository } from '../leases/lease.repository';

import { TokenHasher } from './token-hasher';

export type IntrospectionResult =
  | { active: false }
  | { active: true; sub: string; scope: string; exp: number; iat: number; token_type: 'opaque-token'; lease_id: string; owner: string };

const actorOf = (caller: Caller): Actor =>
  caller.kind === 'workload'
    ? { kind: 'workload', workload: caller.workload }
    : { kind: 'operator', subject: caller.subject, groups: caller.groups };

@Injectable()
export class IntrospectionService {
  constructor(
    private readonly leases: LeaseRepository,
    private readonly hasher: TokenHasher,
    private readonly publisher: EventPublisher,
  ) {}

  /** Active only while the lease is active and unexpired; anything else is the same plain `inactive`. */
  async introspect(token: string, caller: Caller): Promise<IntrospectionResult> {
    const lease = await this.leases.findByTokenHash(this.hasher.hash(token));
    const now = new Date();
    if (!lease || !isLive(lease, now)) return { active: false };
    await this.publisher.publish(
      createEvent({
        topic: Topics.access,
        source: '/rotor/issuer',
        subject: lease.id,
        data: { actor: actorOf(caller), action: 'introspect', leaseId: lease.id, at: now.toISOString() },
      }),
    );
    return {
      active: true,
      sub: `system:serviceaccount:${lease.workload.namespace}:${lease.workload.serviceAccount}`,
      scope: lease.role,
      exp: Math.floor(lease.expiresAt.getTime() / 1000),
      iat: Math.floor(lease.issuedAt.getTime() / 1000),
      token_type: 'opaque-token',
      lease_id: lease.id,
      owner: lease.owner,
    };
  }
}
