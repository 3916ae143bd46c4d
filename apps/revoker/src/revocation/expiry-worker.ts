import { Inject, Injectable } from '@nestjs/common';

import { ClaimLoopWorker, type ClaimLoopSpec } from '@rotor/nest-redis';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { REVOKER_CONFIG } from '../platform/tokens';

import { RevocationService } from './revocation.service';

/**
 * Polls the TTL clock for due leases and revokes them with bounded concurrency. Claims are
 * atomic in Redis, so any number of revoker replicas can run this loop side by side.
 */
@Injectable()
export class ExpiryWorker extends ClaimLoopWorker {
  constructor(
    private readonly clock: LeaseClock,
    private readonly revocation: RevocationService,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected claimLoops(): ClaimLoopSpec[] {
    const { pollMs, batch, concurrency, visibilityMs } = this.config.revocation;
    return [
      {
        what: 'lease revocation',
        schedule: this.clock.schedule,
        pollMs,
        batch,
        concurrency,
        visibilityMs,
        logger: this.logger,
        handle: (leaseId: string) => this.revocation.revokeClaimed(leaseId),
      },
    ];
  }
}
