import { Inject, Injectable } from '@nestjs/common';

import type { LeaseFilter } from '@rotor/audit-chain';
import { findManagedSecret, isBound, type Catalog } from '@rotor/catalog';
import { DomainError } from '@rotor/errors';

import { CATALOG } from '../platform/tokens';

import { InventoryStore } from './inventory.store';

/**
 * The inventory: what exists where, from the audit views, joined with the catalog's bindings
 * (who may read a secret). Bindings are configuration, not events, so they come from the
 * catalog the auditor runs with rather than from the audit log.
 */
@Injectable()
export class InventoryService {
  constructor(
    private readonly store: InventoryStore,
    @Inject(CATALOG) private readonly catalog: Catalog,
  ) {}

  async secret(name: string, at = Date.now()) {
    const [versions, copies] = await Promise.all([this.store.secretVersions(name, at), this.store.secretCopies(name, at)]);
    const managed = findManagedSecret(this.catalog, name);
    if (!managed && versions.length === 0 && copies.length === 0)
      throw new DomainError('not-found', 'secret-not-found', `no managed secret named ${name} in the catalog or the audit log`);
    return {
      secret: name,
      owner: managed?.owner ?? versions.find((version) => version.owner)?.owner,
      inCatalog: !!managed,
      currentVersion: versions.find((version) => version.state === 'current')?.version,
      versions,
      copies,
      boundReaders: managed?.bindings ?? [],
      at: new Date(at).toISOString(),
    };
  }

  leases(filter: LeaseFilter, page: { at: number; after?: string; limit: number }) {
    return this.store.leases(filter, page);
  }

  async workload(namespace: string, serviceAccount: string, at = Date.now()) {
    const workload = { namespace, serviceAccount };
    const leases = await this.store.workloadLeases(`${namespace}/${serviceAccount}`, at);
    const boundSecrets = this.catalog.managedSecrets.filter((secret) => isBound(secret, workload));
    const secrets = await Promise.all(
      boundSecrets.map(async (secret) => {
        const versions = await this.store.secretVersions(secret.name, at);
        return {
          secret: secret.name,
          owner: secret.owner,
          currentVersion: versions.find((version) => version.state === 'current')?.version,
        };
      }),
    );
    return {
      workload,
      leases,
      secrets,
      roles: this.catalog.roles
        .filter((role) => isBound(role, workload))
        .map((role) => ({ role: role.name, owner: role.owner, backend: role.backend.kind })),
      at: new Date(at).toISOString(),
    };
  }

  async at(time: Date) {
    const existing = await this.store.existingAt(time.getTime());
    return { at: time.toISOString(), ...existing };
  }
}
