import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/backoff';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { ClusterCopyScanner } from '../copies/cluster-copy-scanner';
import { DriftScanner } from '../drift/drift-scanner';

import { DISTRIBUTOR_CONFIG } from './tokens';

/**
 * Runs the drift scan and the manual-copy scan each on its own period (0 turns one off).
 * Each scan takes a Redis lock, so one replica at a time runs it.
 */
@Injectable()
export class PeriodicScans implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly drift: DriftScanner,
    private readonly copies: ClusterCopyScanner,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.every('drift scan', this.config.driftScanMs, () => this.drift.scanExclusive());
    this.every('copy scan', this.config.copyScan.periodMs, () => this.copies.scanExclusive());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
  }

  private every(what: string, periodMs: number, scan: () => Promise<unknown>): void {
    if (periodMs <= 0) return;
    const run = async () => {
      while (!this.stopping.signal.aborted) {
        await sleep(periodMs, this.stopping.signal);
        if (this.stopping.signal.aborted) return;
        await scan().catch((error: unknown) => this.logger.error({ err: (error as Error).name }, `${what} failed`));
      }
    };
    this.loops.push(run());
  }
}
