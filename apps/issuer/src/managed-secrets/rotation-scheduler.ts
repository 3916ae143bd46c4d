import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { sleep } from '@rotor/backoff';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { CATALOG } from '../platform/tokens';

import { RotationService } from './rotation.service';
import { SecretVersionRepository } from './secret-version.repository';

const POLL_MS = 500;
const VISIBILITY_MS = 60_000;

/**
 * Rotates managed secrets on their `rotationPeriod`, from a Redis schedule (no timer per
 * secret). A secret with no version yet gets its first one at start-up; several issuer
 * replicas share the schedule through atomic claims.
 */
@Injectable()
export class RotationScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly versions: SecretVersionRepository,
    private readonly rotation: RotationService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const secret of this.catalog.managedSecrets) {
      const current = await this.versions.current(secret.name);
      await this.versions.rotations.scheduleIfAbsent(
        secret.name,
        current ? current.createdAt.getTime() + secret.rotationPeriod : Date.now(),
      );
    }
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        const due = await this.versions.rotations.claimDue({ nowMs: Date.now(), limit: 10, visibilityMs: VISIBILITY_MS });
        for (const name of due) {
          if (!findManagedSecret(this.catalog, name)) {
            // Removed from the catalog: nothing to rotate any more (replicas share one catalog).
            await this.versions.rotations.cancel(name);
            this.logger.info({ secret: name }, 'dropped the rotation schedule of a secret no longer in the catalog');
            continue;
          }
          const current = await this.versions.current(name);
          // rotate() reschedules the next one; a failure leaves the claim to return after its deadline.
          await this.rotation
            .rotate(name, current ? 'scheduled' : 'initial')
            .catch((error: unknown) =>
              this.logger.error({ secret: name, err: (error as Error).message }, 'scheduled rotation failed; will retry'),
            );
        }
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'could not claim due rotations');
      }
      await sleep(POLL_MS, this.stopping.signal);
    }
  }
}
