import { Inject, Injectable } from '@nestjs/common';

import { assessPosture, type PostureReport } from '@rotor/audit-chain';
import type { Catalog } from '@rotor/catalog';

import { InventoryStore } from '../inventory/inventory.store';
import { CATALOG } from '../platform/tokens';

import { PostureStore } from './posture.store';

/** Gathers the posture inputs (catalog, audit views) and hands them to the pure assessment. */
@Injectable()
export class PostureService {
  constructor(
    private readonly posture: PostureStore,
    private readonly inventory: InventoryStore,
    @Inject(CATALOG) private readonly catalog: Catalog,
  ) {}

  async report(now = Date.now()): Promise<PostureReport> {
    const [discoveredCopies, drifts, irrevocableLeases, breakGlass] = await Promise.all([
      this.posture.discoveredCopies(now),
      this.posture.drifts(),
      this.posture.irrevocableLeases(),
      this.posture.breakGlass(),
    ]);
    const secrets = [
      ...new Set([...this.catalog.managedSecrets.map((secret) => secret.name), ...discoveredCopies.map((copy) => copy.secret)]),
    ];
    const [versions, copies] = await Promise.all([
      Promise.all(secrets.map((secret) => this.inventory.secretVersions(secret, now))),
      Promise.all(secrets.map((secret) => this.inventory.secretCopies(secret, now))),
    ]);
    return assessPosture({
      now,
      catalog: {
        roles: this.catalog.roles.map((role) => ({ name: role.name, owner: role.owner, ttlMs: role.ttl, maxTtlMs: role.maxTtl })),
        managedSecrets: this.catalog.managedSecrets.map((secret) => ({
          name: secret.name,
          owner: secret.owner,
          rotationPeriodMs: secret.rotationPeriod,
        })),
        maxTtlCeilingMs: this.catalog.policy.maxTtlCeiling,
      },
      versions: Object.fromEntries(secrets.map((secret, index) => [secret, versions[index]!])),
      copies: Object.fromEntries(secrets.map((secret, index) => [secret, copies[index]!])),
      discoveredCopies,
      drifts,
      irrevocableLeases,
      breakGlass: breakGlass.uses,
      breakGlassVersions: breakGlass.versions,
    });
  }
}
