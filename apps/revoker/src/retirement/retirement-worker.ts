import { Inject, Injectable } from '@nestjs/common';

import { ClaimLoopWorker, type ClaimLoopSpec } from '@rotor/nest-redis';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { REVOKER_CONFIG } from '../platform/tokens';

import { RetirementStore } from './retirement.store';
import { RetirementService } from './retirement.service';

/** Claims due retirements (grace ends, fully confirmed versions) and runs them; any replica may. */
@Injectable()
export class RetirementWorker extends ClaimLoopWorker {
  constructor(
    private readonly store: RetirementStore,
    private readonly retirement: RetirementService,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected claimLoops(): ClaimLoopSpec[] {
    const { pollMs, visibilityMs } = this.config.revocation;
    return [
      {
        what: 'retirement',
        schedule: this.store.schedule,
        pollMs,
        batch: 50,
        // GSM writes are paced by the store's limiter; a few at a time keep claims short.
        concurrency: 4,
        visibilityMs,
        logger: this.logger,
        handle: (member: string) => this.retirement.retireClaimed(member),
      },
    ];
  }
}
