import { Inject, Injectable } from '@nestjs/common';

import { leaseExistedAt, leaseView, ViewKeys, type AuditViewsReader } from '@rotor/audit-chain';
import type { Catalog } from '@rotor/catalog';
import { DomainError } from '@rotor/errors';

import { AUDIT_VIEWS, CATALOG } from '../platform/tokens';

import { InventoryStore } from './inventory.store';

/**
 * Everything one owner answers for: their roles and managed secrets from the catalog, and from
 * the audit views the leases that exist now, each secret's current version and its copies.
 * Secrets whose versions named the owner but that left the catalog are listed too.
 */
@Injectable()
export class OwnerInventoryService {
  constructor(
    private readonly store: InventoryStore,
    @Inject(AUDIT_VIEWS) private readonly views: AuditViewsReader,
    @Inject(CATALOG) private readonly catalog: Catalog,
  ) {}

  async owner(owner: string, at = Date.now()) {
    const roles = this.catalog.roles.filter((role) => role.owner === owner);
    const managed = this.catalog.managedSecrets.filter((secret) => secret.owner === owner);
    const [leaseIds, loggedSecrets] = await Promise.all([
      this.views.members(ViewKeys.ownerLeases(owner), at),
      this.views.members(ViewKeys.ownerSecrets(owner), at),
    ]);
    const names = [...new Set([...managed.map((secret) => secret.name), ...loggedSecrets])];
    if (roles.length === 0 && names.length === 0 && leaseIds.length === 0)
      throw new DomainError(
        'not-found',
        'owner-not-found',
        `no role, managed secret or lease of owner ${owner} in the catalog or the audit log`,
      );
    const leases = await this.views.entities(leaseIds.map(ViewKeys.lease));
    const secrets = await Promise.all(
      names.map(async (name) => {
        const [versions, copies] = await Promise.all([this.store.secretVersions(name, at), this.store.secretCopies(name, at)]);
        const current = versions.find((version) => version.state === 'current');
        const spec = managed.find((secret) => secret.name === name);
        return {
          secret: name,
          inCatalog: !!spec,
          rotationPeriodMs: spec?.rotationPeriod,
          currentVersion: current?.version,
          currentSince: current?.createdAt,
          copies: copies.filter((copy) => copy.state !== 'removed' && copy.state !== 'failed'),
        };
      }),
    );
    return {
      owner,
      roles: roles.map((role) => ({
        role: role.name,
        backend: role.backend.kind,
        ttlMs: role.ttl,
        maxTtlMs: role.maxTtl,
        bindings: role.bindings,
      })),
      secrets,
      leases: leases.filter((lease) => leaseExistedAt(lease, at)).map((lease) => leaseView(lease, at)),
      at: new Date(at).toISOString(),
    };
  }
}
