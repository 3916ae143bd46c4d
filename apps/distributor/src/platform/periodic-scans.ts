import { Inject, Injectable } from '@nestjs/common';

import { LOGGER, PeriodicWorker } from '@rotor/service-kit';
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
export class PeriodicScans extends PeriodicWorker {
  constructor(
    private readonly drift: DriftScanner,
    private readonly copies: ClusterCopyScanner,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected start(): void {
    const failed = (what: string) => (error: Error) => this.logger.error({ err: error.name }, `${what} failed`);
    this.every(this.config.driftScanMs, () => this.drift.scanExclusive(), failed('drift scan'));
    this.every(this.config.copyScan.periodMs, () => this.copies.scanExclusive(), failed('copy scan'));
  }
}
