import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { runClaimLoop } from '../platform/claim-loop';
import { REVOKER_CONFIG } from '../platform/tokens';

import { BreakGlassFollowUp } from './break-glass-follow-up';

/** Claims break-glass accesses whose end (or follow-up check) is due; any replica may. */
@Injectable()
export class BreakGlassWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly followUp: BreakGlassFollowUp,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const { pollMs, visibilityMs } = this.config.revocation;
    this.loop = runClaimLoop({
      what: 'break-glass follow-up',
      schedule: this.followUp.schedule,
      pollMs,
      batch: 50,
      concurrency: 4,
      visibilityMs,
      signal: this.stopping.signal,
      logger: this.logger,
      handle: (id) => this.followUp.runClaimed(id),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
