import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { runClaimLoop } from '../platform/claim-loop';
import { REVOKER_CONFIG } from '../platform/tokens';

import { RetirementStore } from './retirement-store';
import { RetirementService } from './retirement.service';

/** Claims due retirements (grace ends, fully confirmed versions) and runs them; any replica may. */
@Injectable()
export class RetirementWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly store: RetirementStore,
    private readonly retirement: RetirementService,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const { pollMs, visibilityMs } = this.config.revocation;
    this.loop = runClaimLoop({
      what: 'retirement',
      schedule: this.store.schedule,
      pollMs,
      batch: 50,
      // GSM writes are paced by the store's limiter; a few at a time keep claims short.
      concurrency: 4,
      visibilityMs,
      signal: this.stopping.signal,
      logger: this.logger,
      handle: (member) => this.retirement.retireClaimed(member),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
