import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import type { EmergencyPreview, EmergencySelector, LeaseRevocationPreview, LeaseSelector } from '@rotor/rest-contract';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { CATALOG, REVOKER_CONFIG } from '../platform/tokens';

import { leaseMatches, matchSecrets, primaryLeaseIndex, selectsLeases } from './emergency-matcher';

/**
 * What an emergency rotation or a lease revocation with a selector would cover if started
 * now, for the SRE to read before starting one (`--dry-run`, and the confirmation prompt).
 * It reads the same indexes and rules as the run's own matching, and writes nothing.
 */
@Injectable()
export class EmergencyPreviewer {
  constructor(
    private readonly clock: LeaseClock,
    @Inject(CATALOG) private readonly catalog: Catalog,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
  ) {}

  async preview(selector: EmergencySelector): Promise<EmergencyPreview> {
    const leases = selectsLeases(selector) ? await this.countLeases(selector) : { total: 0, byRole: {}, byBackend: {} };
    const secrets = matchSecrets(this.catalog, selector).map((name) => ({
      secret: name,
      targets: (findManagedSecret(this.catalog, name)?.targets ?? []).map((target) => ({ kind: target.kind, name: target.name })),
    }));
    return { selector, leases, secrets };
  }

  async previewLeases(selector: LeaseSelector): Promise<LeaseRevocationPreview> {
    return { selector, leases: await this.countLeases(selector) };
  }

  private async countLeases(selector: EmergencySelector): Promise<LeaseRevocationPreview['leases']> {
    const byRole: Record<string, number> = {};
    const byBackend: Record<string, number> = {};
    const counted = new Set<string>();
    let cursor = '0';
    do {
      const [next, ids] = await this.clock.scanIndex(primaryLeaseIndex(selector), cursor, this.config.emergency.batch);
      const fields = await this.clock.matchFields(ids);
      ids.forEach((id, index) => {
        const lease = fields[index];
        // SSCAN may return an id twice; a revoked lease has no fields here.
        if (!lease || counted.has(id) || !leaseMatches(lease, selector)) return;
        counted.add(id);
        byRole[lease.role] = (byRole[lease.role] ?? 0) + 1;
        byBackend[lease.backend] = (byBackend[lease.backend] ?? 0) + 1;
      });
      cursor = next;
    } while (cursor !== '0');
    return { total: counted.size, byRole, byBackend };
  }
}
