import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/kafka';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { DISTRIBUTOR_CONFIG } from '../platform/tokens';

import { DriftScanner } from './drift-scanner';

/** Runs the drift scan periodically; one replica at a time scans (a Redis lock in the scanner). */
@Injectable()
export class DriftSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly scanner: DriftScanner,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.driftScanMs > 0) this.loop = this.run(this.config.driftScanMs);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(periodMs: number): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await sleep(periodMs, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      await this.scanner.scanExclusive().catch((error: unknown) => this.logger.error({ err: (error as Error).name }, 'drift scan failed'));
    }
  }
}
