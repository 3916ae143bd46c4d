import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog, type ManagedSecret } from '@rotor/catalog';
import { createEvent, Topics, type EventData } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { CATALOG } from '../platform/tokens';

import { generateSecretValue, versionNumberOf } from './secret-generator';
import { SecretVersionStore, type CurrentVersion } from './secret-version.store';

export type RotationReason = EventData<typeof Topics.secretVersionCreated>['reason'];

/** GSM labels: lowercase letters, digits, `_` and `-`, at most 63 characters. */
const label = (value: string) =>
  value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, 63);

/**
 * Mints new versions of managed secrets: generate → add a GSM version → record it as
 * current → publish `secret.version-created` (a reference, never the value) → schedule the
 * next rotation. The value exists only in this call and in GSM.
 */
@Injectable()
export class RotationService {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly gsm: GsmSecretStore,
    private readonly versions: SecretVersionStore,
    private readonly publisher: EventPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  secret(name: string): ManagedSecret {
    const secret = findManagedSecret(this.catalog, name);
    if (!secret) throw new DomainError('not-found', 'unknown-managed-secret', `managed secret ${name} is not in the catalog`);
    return secret;
  }

  /** `emergencyId` (from an emergency's rotation request) is carried onto the event, so the emergency can count this version. */
  async rotate(name: string, reason: RotationReason, { emergencyId }: { emergencyId?: string } = {}): Promise<CurrentVersion> {
    const secret = this.secret(name);
    // One rotation of a secret at a time: the version read here as previous must be the one the new version replaces.
    return this.versions.whileRotating(name, async () => {
      const previous = await this.versions.current(name);
      await this.gsm.ensureSecret(name, { 'managed-by': 'rotor', owner: label(secret.owner) });
      const gsmVersion = await this.gsm.addVersion(name, generateSecretValue(secret.generator));
      const current: CurrentVersion = { version: versionNumberOf(gsmVersion), gsmVersion, createdAt: new Date() };
      await this.gsm.setLabels(name, { 'managed-by': 'rotor', owner: label(secret.owner), 'rotor-version': String(current.version) });
      await this.versions.setCurrent(name, current);
      await this.publisher.publish(
        createEvent({
          topic: Topics.secretVersionCreated,
          source: '/rotor/issuer',
          subject: name,
          data: {
            secret: name,
            owner: secret.owner,
            version: current.version,
            gsmVersion,
            ...(previous ? { previousVersion: previous.version } : {}),
            reason,
            ...(emergencyId ? { emergencyId } : {}),
            createdAt: current.createdAt.toISOString(),
          },
        }),
        { key: name },
      );
      await this.versions.rotations.schedule(name, current.createdAt.getTime() + secret.rotationPeriod);
      this.logger.info({ secret: name, version: current.version, reason }, 'managed secret rotated');
      return current;
    });
  }
}
