import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, findRole, type Catalog } from '@rotor/catalog';
import { createEvent, Topics, type Actor } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import type { OperatorCaller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import type { Redis } from '@rotor/redis-store';
import type { BreakGlassRequest } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { LeaseService } from '../leases/lease.service';
import { SecretVersionStore } from '../managed-secrets/secret-version.store';
import { CATALOG } from '../platform/tokens';

/** Break-glass access never lasts longer than this unless the catalog's policy says less. */
export const DEFAULT_BREAK_GLASS_MAX_TTL_MS = 3_600_000;
const SOURCE = '/rotor/issuer';
const recordKey = (id: string) => `issuer:breakglass:${id}`;
export const BREAK_GLASS_RECORD_PATTERN = 'issuer:breakglass:*';

export interface BreakGlassGrant {
  id: string;
  expiresAt: Date;
  secrets: { secret: string; version: number; value: string }[];
  role?: { name: string; leaseId: string; credential: Record<string, string> };
}

/**
 * Time-boxed access outside the bindings, for SREs. The `breakglass.used` event is published
 * before anything is exposed (no event, no access), and the revoker rotates every exposed
 * managed secret when the access ends; a role opened this way is an ordinary lease, revoked
 * at its TTL by the normal pipeline.
 */
@Injectable()
export class BreakGlassService {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly leases: LeaseService,
    private readonly versions: SecretVersionStore,
    private readonly gsm: GsmSecretStore,
    private readonly publisher: EventPublisher,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly gate: DependencyGate,
  ) {}

  async open(caller: OperatorCaller, request: BreakGlassRequest): Promise<BreakGlassGrant> {
    const maxTtlMs = this.catalog.policy.breakGlassMaxTtl ?? DEFAULT_BREAK_GLASS_MAX_TTL_MS;
    if (request.ttl !== undefined && request.ttl > maxTtlMs) {
      throw new DomainError('invalid', 'ttl-above-max', `ttl may be at most ${maxTtlMs / 1000}s for break-glass access`, { field: 'ttl' });
    }
    const secrets = request.secrets ?? [];
    for (const [index, secret] of secrets.entries()) {
      if (!findManagedSecret(this.catalog, secret))
        throw new DomainError('invalid', 'unknown-managed-secret', `secrets[${index}]: ${secret} is not a managed secret in the catalog`, {
          field: `secrets[${index}]`,
        });
    }
    if (request.role && !findRole(this.catalog, request.role))
      throw new DomainError('invalid', 'unknown-role', `role: ${request.role} is not in the catalog`, { field: 'role' });

    const id = randomUUID();
    const ttlMs = request.ttl ?? maxTtlMs;
    const expiresAt = new Date(Date.now() + ttlMs);
    const actor: Actor = { kind: 'operator', subject: caller.subject, groups: caller.groups };
    // Loud first: if this cannot be recorded, nothing is exposed.
    await this.publisher.publish(
      createEvent({
        topic: Topics.breakglassUsed,
        id,
        source: SOURCE,
        subject: id,
        data: {
          actor,
          leaseId: id,
          secrets,
          ...(request.role ? { role: request.role } : {}),
          reason: request.reason,
          ticket: request.ticket,
          expiresAt: expiresAt.toISOString(),
        },
      }),
      // Bounded (503 kafka-unavailable past it): nothing is exposed yet, so there is nothing to undo.
      { key: id, timeoutMs: this.gate.timeoutMs },
    );
    await this.redis.set(recordKey(id), JSON.stringify({ expiresAt: expiresAt.toISOString(), secrets }), 'PX', ttlMs + 7 * 86_400_000);

    // The secrets first: a role credential is minted last, so a failure before it leaves none behind.
    const values = [];
    for (const secret of secrets) {
      const current = await this.versions.current(secret);
      if (!current)
        throw new DomainError('unavailable', 'no-version-yet', `managed secret ${secret} has no version yet`, { retryAfterSeconds: 5 });
      const value = await this.gate.bounded('gsm', this.gsm.access(current.gsmVersion));
      await this.publisher.publish(
        createEvent({
          topic: Topics.access,
          source: SOURCE,
          subject: secret,
          data: { actor, action: 'read-secret', secret, version: current.version, at: new Date().toISOString() },
        }),
        { key: secret, timeoutMs: this.gate.timeoutMs },
      );
      values.push({ secret, version: current.version, value: value.toString('utf8') });
    }
    let role: BreakGlassGrant['role'];
    if (request.role) {
      const issued = await this.leases.issue({
        caller,
        role: request.role,
        ttlMs,
        task: `break-glass:${id}`,
        breakGlass: { maxTtlMs: ttlMs },
      });
      role = { name: request.role, leaseId: issued.lease.id, credential: issued.credential };
      await this.redis.set(
        recordKey(id),
        JSON.stringify({ expiresAt: expiresAt.toISOString(), secrets, roleLeaseId: issued.lease.id }),
        'KEEPTTL',
      );
    }

    this.logger.warn(
      { breakGlassId: id, operator: caller.subject, secrets, role: request.role, ticket: request.ticket, expiresAt },
      'break-glass access granted',
    );
    return { id, expiresAt, secrets: values, ...(role ? { role } : {}) };
  }

  /** Ends access early: the revoker rotates the exposed secrets now and revokes the role's lease. */
  async end(caller: OperatorCaller, id: string): Promise<{ id: string; state: 'ending' }> {
    const text = await this.redis.get(recordKey(id));
    if (!text) throw new DomainError('not-found', 'unknown-break-glass', `no break-glass access ${id}`);
    const record = JSON.parse(text) as { roleLeaseId?: string };
    const requestedBy: Actor = { kind: 'operator', subject: caller.subject, groups: caller.groups };
    for (const leaseId of [id, ...(record.roleLeaseId ? [record.roleLeaseId] : [])]) {
      await this.publisher.publish(
        createEvent({
          topic: Topics.revocationRequested,
          id: `${leaseId}:breakglass-ended`,
          source: SOURCE,
          subject: leaseId,
          data: { subject: { kind: 'lease', leaseId }, reason: 'breakglass-ended', requestedBy },
        }),
        // Bounded; a retry is safe (fixed event ids, and revocation is idempotent).
        { key: leaseId, timeoutMs: this.gate.timeoutMs },
      );
    }
    return { id, state: 'ending' };
  }
}
