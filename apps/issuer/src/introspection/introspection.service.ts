import { createHash } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import type { Catalog } from '@rotor/catalog';
import { createEvent, Topics, type Actor } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import { KeyedRateLimiter, type Redis } from '@rotor/redis-store';

import type { IssuerConfig } from '../config';
import { holderSubject, isLive } from '../leases/lease';
import { LeaseStore } from '../leases/lease.store';
import { CATALOG, ISSUER_CONFIG } from '../platform/tokens';

import { TokenHasher } from './token-hasher';

export type IntrospectionResult =
  | { active: false }
  | { active: true; sub: string; scope: string; exp: number; iat: number; token_type: 'opaque-token'; lease_id: string; owner: string };

const actorOf = (caller: Caller): Actor =>
  caller.kind === 'workload'
    ? { kind: 'workload', workload: caller.workload }
    : { kind: 'operator', subject: caller.subject, groups: caller.groups };

/** Resource servers named in the catalog's allowlist, and operators in rotor:introspect. */
export const mayIntrospect = (catalog: Catalog, caller: Caller): boolean =>
  caller.kind === 'operator'
    ? hasGroup(caller, OperatorGroups.introspect)
    : catalog.introspection.allowed.some(
        (allowed) => allowed.namespace === caller.workload.namespace && allowed.serviceAccount === caller.workload.serviceAccount,
      );

/** A bounded, opaque bucket name per caller (operator subjects are free-form). */
const rateKey = (caller: Caller) => createHash('sha256').update(`${caller.kind}\n${caller.subject}`).digest('hex');

/**
 * RFC 7662 for resource servers. Each answer about a live token is an `access` event, so
 * only allowlisted callers may ask, each at a bounded rate: nobody can probe tokens or flood
 * the audit trail.
 */
@Injectable()
export class IntrospectionService {
  private readonly rateLimit: KeyedRateLimiter;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly leases: LeaseStore,
    private readonly hasher: TokenHasher,
    private readonly publisher: EventPublisher,
    @Inject(REDIS) redis: Redis,
    @Inject(ISSUER_CONFIG) config: Pick<IssuerConfig, 'introspectionRate'>,
  ) {
    this.rateLimit = new KeyedRateLimiter(redis, { prefix: 'issuer:ratelimit:introspect:', ...config.introspectionRate });
  }

  /** Active only while the lease is active and unexpired; anything else is the same plain `inactive`. */
  async introspect(token: string, caller: Caller): Promise<IntrospectionResult> {
    if (!mayIntrospect(this.catalog, caller)) {
      throw new DomainError(
        'forbidden',
        'introspection-not-allowed',
        'token introspection is for resource servers in the catalog (introspection.allowed) and operators in rotor:introspect',
      );
    }
    const waitMs = await this.rateLimit.take(rateKey(caller));
    if (waitMs > 0) {
      throw new DomainError('rate-limited', 'introspection-rate-limited', 'too many introspection requests from this caller', {
        retryAfterSeconds: Math.ceil(waitMs / 1000),
      });
    }
    const lease = await this.leases.findByTokenHash(this.hasher.candidates(token));
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
      sub: holderSubject(lease.holder),
      scope: lease.role,
      exp: Math.floor(lease.expiresAt.getTime() / 1000),
      iat: Math.floor(lease.issuedAt.getTime() / 1000),
      token_type: 'opaque-token',
      lease_id: lease.id,
      owner: lease.owner,
    };
  }
}
