import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog, type ManagedSecret } from '@rotor/catalog';
import { checkGsmVersionName } from '@rotor/contracts';
import { ReferenceRejectedError } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { VersionRegistry } from '../copies/version-registry';
import { CATALOG } from '../platform/tokens';

import { DeliveryLedger } from './delivery-ledger';

/** What a version event says about one version: the parts the distributor acts on. */
export interface VersionReference {
  secret: string;
  version: number;
  gsmVersion: string;
}

export interface CheckedVersion {
  /** The GSM version name rebuilt from the configured project, the secret and the version number. */
  gsmVersion: string;
  /** The catalog's entry; undefined for a secret since removed from the catalog that the distributor's records still know. */
  secret: ManagedSecret | undefined;
}

/**
 * Checks the references in version events before anything is written: the secret must be one
 * the catalog declares or the distributor's own records know (a secret removed from the
 * catalog keeps its copies until they are removed), and the GSM name must be that secret's
 * version in the configured project. Anything else throws {@link ReferenceRejectedError}:
 * dead-lettered, counted, and no effect.
 */
@Injectable()
export class EventReferences {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly ledger: DeliveryLedger,
    private readonly registry: VersionRegistry,
    private readonly gsm: GsmSecretStore,
  ) {}

  async checkVersion(reference: VersionReference): Promise<CheckedVersion> {
    const secret = findManagedSecret(this.catalog, reference.secret);
    if (!secret && !(await this.ledger.knows(reference.secret)) && !(await this.registry.knows(reference.secret)))
      throw new ReferenceRejectedError('unknown-secret', 'the event names a managed secret neither the catalog nor the distributor knows');
    const checked = checkGsmVersionName(reference.gsmVersion, {
      project: this.gsm.project,
      secret: reference.secret,
      version: reference.version,
    });
    if (!checked.ok)
      throw new ReferenceRejectedError(
        checked.reason,
        "the event's GSM version name is not this secret's version in the configured project",
      );
    return { gsmVersion: checked.name, secret };
  }
}
