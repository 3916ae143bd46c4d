import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/kafka';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { DISTRIBUTOR_CONFIG } from '../platform/tokens';

import { ClusterCopyScanner } from './cluster-copy-scanner';

/** Runs the cluster scan for manual copies periodically; one replica at a time (a Redis lock in the scanner). */
@Injectable()
export class CopyScanSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly scanner: ClusterCopyScanner,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.copyScan.periodMs > 0) this.loop = this.run(this.config.copyScan.periodMs);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(periodMs: number): Promise<void> {
    while (!this.stopping.signal.aborted) {
      await sleep(periodMs, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      await this.scanner.scanExclusive().catch((error: unknown) => this.logger.error({ err: (error as Error).name }, 'copy scan failed'));
    }
  }
}
