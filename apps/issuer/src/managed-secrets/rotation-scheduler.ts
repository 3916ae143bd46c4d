import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { ClaimLoopWorker, type ClaimLoopSpec } from '@rotor/nest-redis';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { CATALOG } from '../platform/tokens';

import { RotationService } from './rotation.service';
import { SecretVersionStore } from './secret-version.store';

const POLL_MS = 500;
const VISIBILITY_MS = 60_000;

/**
 * Rotates managed secrets on their `rotationPeriod`, from a Redis schedule (no timer per
 * secret). A secret with no version yet gets its first one at start-up; several issuer
 * replicas share the schedule through atomic claims.
 */
@Injectable()
export class RotationScheduler extends ClaimLoopWorker {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly versions: SecretVersionStore,
    private readonly rotation: RotationService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  override async onApplicationBootstrap(): Promise<void> {
    for (const secret of this.catalog.managedSecrets) {
      const current = await this.versions.current(secret.name);
      await this.versions.rotations.scheduleIfAbsent(
        secret.name,
        current ? current.createdAt.getTime() + secret.rotationPeriod : Date.now(),
      );
    }
    await super.onApplicationBootstrap();
  }

  protected claimLoops(): ClaimLoopSpec[] {
    return [
      {
        what: 'scheduled rotation',
        schedule: this.versions.rotations,
        pollMs: POLL_MS,
        batch: 10,
        // One at a time: rotations are rare, and each writes to GSM under the issuer's pacing.
        concurrency: 1,
        visibilityMs: VISIBILITY_MS,
        logger: this.logger,
        handle: (name: string) => this.rotateClaimed(name),
      },
    ];
  }

  /** rotate() reschedules the next one; a failure leaves the claim to return after its deadline. */
  private async rotateClaimed(name: string): Promise<void> {
    if (!findManagedSecret(this.catalog, name)) {
      // Removed from the catalog: nothing to rotate any more (replicas share one catalog).
      await this.versions.rotations.cancel(name);
      this.logger.info({ secret: name }, 'dropped the rotation schedule of a secret no longer in the catalog');
      return;
    }
    const current = await this.versions.current(name);
    await this.rotation.rotate(name, current ? 'scheduled' : 'initial');
  }
}
