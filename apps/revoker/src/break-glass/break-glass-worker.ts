import { Inject, Injectable } from '@nestjs/common';

import { ClaimLoopWorker, type ClaimLoopSpec } from '@rotor/nest-redis';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { REVOKER_CONFIG } from '../platform/tokens';

import { BreakGlassFollowUp } from './break-glass-follow-up';

/** Claims break-glass accesses whose end (or follow-up check) is due; any replica may. */
@Injectable()
export class BreakGlassWorker extends ClaimLoopWorker {
  constructor(
    private readonly followUp: BreakGlassFollowUp,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected claimLoops(): ClaimLoopSpec[] {
    const { pollMs, visibilityMs } = this.config.revocation;
    return [
      {
        what: 'break-glass follow-up',
        schedule: this.followUp.schedule,
        pollMs,
        batch: 50,
        concurrency: 4,
        visibilityMs,
        logger: this.logger,
        handle: (id: string) => this.followUp.runClaimed(id),
      },
    ];
  }
}
