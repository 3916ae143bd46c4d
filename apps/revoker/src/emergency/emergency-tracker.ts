import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import type { EventData, Topics } from '@rotor/contracts';

import { CATALOG } from '../platform/tokens';
import { RetirementEvents } from '../retirement/retirement-events';
import { RetirementStore } from '../retirement/retirement.store';
import type { RetirementUrgency } from '../retirement/retirement-urgency';
import { RevocationEvents } from '../revocation/revocation-events';

import { EmergencyCounters } from './emergency-counters';
import { EmergencyStore } from './emergency.store';

/**
 * Counts what the other stages and features did for an emergency rotation: versions the
 * issuer minted (tagged with the emergency id), deliveries of those versions, and what this
 * revoker's revocation and retirement tell of leases and versions the rotation asked for.
 * It follows them through their notifiers and answers retirement's RetirementUrgency port,
 * so neither imports this feature.
 */
@Injectable()
export class EmergencyTracker implements RetirementUrgency {
  constructor(
    private readonly store: EmergencyStore,
    private readonly counters: EmergencyCounters,
    private readonly retirementStore: RetirementStore,
    @Inject(CATALOG) private readonly catalog: Catalog,
    revocations: RevocationEvents,
    retirements: RetirementEvents,
  ) {
    revocations.on('revoked', async ({ leaseId, emergencyId }) => {
      if (emergencyId) await this.counters.leaseRevoked(emergencyId, leaseId);
    });
    revocations.on('irrevocable', async ({ leaseId, emergencyId }) => {
      if (emergencyId) await this.counters.add(emergencyId, 'failed', leaseId);
    });
    retirements.on('retired', async ({ secret, emergencyId }) => {
      if (emergencyId) await this.counters.add(emergencyId, 'retired', secret);
    });
    retirements.on('versionCreated', (data) => this.onVersionCreated(data));
    retirements.on('deliveryCompleted', (data) => this.onDeliveryCompleted(data));
  }

  /** Immediate rotations retire the previous version as soon as the new one exists. */
  async isImmediate(emergencyId: string | undefined): Promise<boolean> {
    return emergencyId !== undefined && (await this.store.mode(emergencyId)) === 'immediate';
  }

  private async onVersionCreated(data: EventData<typeof Topics.secretVersionCreated>): Promise<void> {
    const emergencyId = data.emergencyId;
    if (!emergencyId) return;
    // The highest version each target already confirmed: confirmations can come first.
    const confirmed = await this.retirementStore.confirmed(data.secret);
    await this.store.rememberVersion(data.secret, data.version, emergencyId);
    for (const target of findManagedSecret(this.catalog, data.secret)?.targets ?? []) {
      if ((confirmed[target.name] ?? 0) >= data.version) await this.counters.add(emergencyId, 'delivered', `${data.secret}:${target.name}`);
    }
    // Nothing older to retire: the secret is as retired as it will get.
    if (!data.previousVersion) await this.counters.add(emergencyId, 'retired', data.secret);
    await this.counters.add(emergencyId, 'rotated', data.secret);
  }

  private async onDeliveryCompleted(data: EventData<typeof Topics.deliveryCompleted>): Promise<void> {
    const emergencyId = await this.store.emergencyOfVersion(data.secret, data.version);
    if (emergencyId) await this.counters.add(emergencyId, 'delivered', `${data.secret}:${data.target.name}`);
  }
}
