import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { checkGsmVersionName, type EventData, type Topics } from '@rotor/contracts';
import { ReferenceRejectedError } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { CATALOG } from '../platform/tokens';

import { RetirementStore } from './retirement.store';

/**
 * Checks the managed-secret references of the events the revoker acts on, before any effect.
 * A secret must be in the catalog or in the revoker's own records (so versions of a secret
 * the catalog has since dropped can still be retired); a GSM name must be that secret's
 * version in the configured project; a confirming target must be one the catalog or an
 * earlier confirmation names. Anything else throws {@link ReferenceRejectedError}.
 */
@Injectable()
export class SecretReferences {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly store: RetirementStore,
    private readonly gsm: GsmSecretStore,
  ) {}

  async requireKnownSecret(secret: string): Promise<void> {
    if (findManagedSecret(this.catalog, secret) || (await this.store.knows(secret))) return;
    throw new ReferenceRejectedError('unknown-secret', 'the event names a managed secret neither the catalog nor the revoker knows');
  }

  async checkVersionCreated(data: EventData<typeof Topics.secretVersionCreated>): Promise<void> {
    await this.requireKnownSecret(data.secret);
    const checked = checkGsmVersionName(data.gsmVersion, { project: this.gsm.project, secret: data.secret, version: data.version });
    if (!checked.ok)
      throw new ReferenceRejectedError(
        checked.reason,
        "the event's GSM version name is not this secret's version in the configured project",
      );
    if (data.previousVersion !== undefined && data.previousVersion >= data.version)
      throw new ReferenceRejectedError('version-mismatch', 'the previous version is not older than the new one');
  }

  async checkDeliveryCompleted(data: EventData<typeof Topics.deliveryCompleted>): Promise<void> {
    await this.requireKnownSecret(data.secret);
    const inCatalog = findManagedSecret(this.catalog, data.secret)?.targets.some((target) => target.name === data.target.name);
    if (inCatalog || (await this.store.confirmed(data.secret))[data.target.name] !== undefined) return;
    throw new ReferenceRejectedError('unknown-target', 'the confirmation names a target neither the catalog nor the revoker knows');
  }
}
