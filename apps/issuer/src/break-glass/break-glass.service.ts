import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, findRole, type Catalog, type Role } from '@rotor/catalog';
import { createEvent, Topics, type Actor } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import type { OperatorCaller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';
import type { BreakGlassAccess, BreakGlassPage, BreakGlassPreview, BreakGlassRequest, BreakGlassState } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { LeaseService } from '../leases/lease.service';
import { SecretVersionStore } from '../managed-secrets/secret-version.store';
import { CATALOG } from '../platform/tokens';

import { BreakGlassStore, type BreakGlassRecord } from './break-glass.store';

/** Break-glass access never lasts longer than this unless the catalog's policy says less. */
export const DEFAULT_BREAK_GLASS_MAX_TTL_MS = 3_600_000;
const SOURCE = '/rotor/issuer';
export const BREAK_GLASS_FOLLOW_UP = 'every managed secret listed is rotated when this access ends';

/** What a request would open, checked against the catalog and the policy; the same for preview and open. */
interface BreakGlassPlan {
  secrets: string[];
  role?: Role;
  ttlMs: number;
}

/** Open until ended early or expired; an early end after the expiry changes nothing. */
export const accessView = (id: string, record: BreakGlassRecord, now: Date): BreakGlassAccess => {
  const expiresAt = Date.parse(record.expiresAt);
  const endedAt = record.endedAt !== undefined && Date.parse(record.endedAt) < expiresAt ? record.endedAt : undefined;
  const state: BreakGlassState = endedAt !== undefined || expiresAt <= now.getTime() ? 'ended' : 'open';
  return {
    id,
    state,
    ...(record.requestedBy !== undefined ? { requestedBy: record.requestedBy } : {}),
    secrets: record.secrets,
    ...(record.roleLeaseId !== undefined
      ? { role: { ...(record.role !== undefined ? { name: record.role } : {}), leaseId: record.roleLeaseId } }
      : {}),
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
    ...(record.ticket !== undefined ? { ticket: record.ticket } : {}),
    ...(record.openedAt !== undefined ? { openedAt: record.openedAt } : {}),
    expiresAt: new Date(expiresAt).toISOString(),
    ...(state === 'ended' ? { endedAt: endedAt ?? new Date(expiresAt).toISOString() } : {}),
  };
};

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
    private readonly store: BreakGlassStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly gate: DependencyGate,
  ) {}

  /** What `open` would expose, exposing nothing: version references and targets, never a value. Writes nothing. */
  async preview(request: BreakGlassRequest, now = new Date()): Promise<BreakGlassPreview> {
    const plan = this.plan(request);
    const secrets = [];
    for (const secret of plan.secrets) {
      const current = await this.versions.current(secret);
      secrets.push({
        secret,
        ...(current ? { current: { version: current.version, gsmVersion: current.gsmVersion } } : {}),
        targets: (findManagedSecret(this.catalog, secret)?.targets ?? []).map((target) => ({ kind: target.kind, name: target.name })),
      });
    }
    return {
      secrets,
      ...(plan.role
        ? {
            role: {
              name: plan.role.name,
              backend: plan.role.backend.kind,
              // As LeaseService caps it: the access's TTL, no longer than the role allows.
              ttlSeconds: Math.floor(Math.min(plan.ttlMs, plan.role.maxTtl) / 1000),
            },
          }
        : {}),
      ttlSeconds: Math.floor(plan.ttlMs / 1000),
      expiresAt: new Date(now.getTime() + plan.ttlMs).toISOString(),
      reason: request.reason,
      ticket: request.ticket,
      followUp: BREAK_GLASS_FOLLOW_UP,
    };
  }

  /**
   * Opens the access. With an Idempotency-Key, only the first request of this SRE with that key
   * opens one; later ones (within a day) are refused with the access's id, as its values were
   * shown once and are kept nowhere. If opening fails, the key is released for a retry.
   */
  async open(caller: OperatorCaller, request: BreakGlassRequest, idempotencyKey?: string): Promise<BreakGlassGrant> {
    const plan = this.plan(request);
    const id = randomUUID();
    if (idempotencyKey === undefined) return this.openPlanned(caller, request, plan, id);
    const existing = await this.store.claimKey(caller.subject, idempotencyKey, id);
    if (existing !== undefined) throw await this.alreadyOpen(existing);
    try {
      return await this.openPlanned(caller, request, plan, id);
    } catch (error) {
      await this.store
        .releaseKey(caller.subject, idempotencyKey, id)
        .catch((releaseError: unknown) =>
          this.logger.warn(
            { breakGlassId: id, err: { name: (releaseError as Error).name, message: (releaseError as Error).message } },
            'break-glass Idempotency-Key not released after a failed open; it frees itself within a day',
          ),
        );
      throw error;
    }
  }

  /** Newest first; `undefined` when `after` names no listed access. */
  async list(
    { state, limit, after }: { state?: BreakGlassState; limit: number; after?: string },
    now = new Date(),
  ): Promise<BreakGlassPage | undefined> {
    const page = await this.store.page({
      limit,
      ...(after !== undefined ? { after } : {}),
      matches: (record) => state === undefined || accessView('', record, now).state === state,
    });
    if (!page) return undefined;
    return { items: page.items.map(([id, record]) => accessView(id, record, now)), ...(page.next ? { next: page.next } : {}) };
  }

  private async alreadyOpen(id: string): Promise<DomainError> {
    const record = await this.store.get(id);
    const view = record ? accessView(id, record, new Date()) : undefined;
    return new DomainError(
      'conflict',
      'break-glass-already-open',
      view
        ? `this Idempotency-Key already opened break-glass access ${id} (${view.state}, expires ${view.expiresAt}); its values are not shown again`
        : `this Idempotency-Key is opening break-glass access ${id}; its values are shown to that request only`,
      { members: { breakGlassId: id, state: view?.state ?? 'opening', ...(view ? { expiresAt: view.expiresAt } : {}) } },
    );
  }

  private plan(request: BreakGlassRequest): BreakGlassPlan {
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
    const role = request.role !== undefined ? findRole(this.catalog, request.role) : undefined;
    if (request.role !== undefined && !role)
      throw new DomainError('invalid', 'unknown-role', `role: ${request.role} is not in the catalog`, { field: 'role' });
    return { secrets, ...(role ? { role } : {}), ttlMs: request.ttl ?? maxTtlMs };
  }

  private async openPlanned(
    caller: OperatorCaller,
    request: BreakGlassRequest,
    plan: BreakGlassPlan,
    id: string,
  ): Promise<BreakGlassGrant> {
    const { secrets, ttlMs } = plan;
    const openedAt = new Date();
    const expiresAt = new Date(openedAt.getTime() + ttlMs);
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
    const record: BreakGlassRecord = {
      expiresAt: expiresAt.toISOString(),
      secrets,
      ...(request.role ? { role: request.role } : {}),
      requestedBy: caller.subject,
      reason: request.reason,
      ticket: request.ticket,
      openedAt: openedAt.toISOString(),
    };
    await this.store.create(id, record, openedAt.getTime());

    let values: BreakGlassGrant['secrets'];
    let role: BreakGlassGrant['role'];
    try {
      ({ values, role } = await this.expose(caller, request, plan, id, record));
    } catch (error) {
      // Nothing was shown: end it now, so the list says so and the follow-up rotation starts at once
      // rather than at the expiry (which still ends it if this cannot).
      await this.end(caller, id).catch((endError: unknown) =>
        this.logger.warn(
          { breakGlassId: id, err: { name: (endError as Error).name, message: (endError as Error).message } },
          'failed break-glass access not ended early; it ends at its expiry',
        ),
      );
      throw error;
    }
    this.logger.warn(
      { breakGlassId: id, operator: caller.subject, secrets, role: request.role, ticket: request.ticket, expiresAt },
      'break-glass access granted',
    );
    return { id, expiresAt, secrets: values, ...(role ? { role } : {}) };
  }

  /** Reads the secrets' values and mints the role's credential. */
  private async expose(
    caller: OperatorCaller,
    request: BreakGlassRequest,
    { secrets, ttlMs }: BreakGlassPlan,
    id: string,
    record: BreakGlassRecord,
  ): Promise<{ values: BreakGlassGrant['secrets']; role?: BreakGlassGrant['role'] }> {
    const actor: Actor = { kind: 'operator', subject: caller.subject, groups: caller.groups };

    // The secrets first: a role credential is minted last, so a failure before it leaves none behind.
    const values: BreakGlassGrant['secrets'] = [];
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
      await this.store.update(id, { ...record, roleLeaseId: issued.lease.id });
    }

    return { values, ...(role ? { role } : {}) };
  }

  /** Ends access early: the revoker rotates the exposed secrets now and revokes the role's lease. */
  async end(caller: OperatorCaller, id: string): Promise<{ id: string; state: 'ending' }> {
    const record = await this.store.get(id);
    if (!record) throw new DomainError('not-found', 'unknown-break-glass', `no break-glass access ${id}`);
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
    // After the requests: a list never shows ended what nobody was asked to end. Once only: a second DELETE keeps the first time.
    if (record.endedAt === undefined && Date.parse(record.expiresAt) > Date.now())
      await this.store.update(id, { ...record, endedAt: new Date().toISOString() });
    return { id, state: 'ending' };
  }
}
