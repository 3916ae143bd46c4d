import { Inject, Injectable } from '@nestjs/common';

import { LOGGER, PeriodicWorker } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { ChainVerificationService } from './chain-verification.service';

/**
 * Verifies the whole audit log every ROTOR_AUDIT_VERIFY_INTERVAL_MS, so that
 * rotor_audit_chain_broken (and its alert) follows the log without anyone asking: a break is
 * found within one interval of being written.
 */
@Injectable()
export class ChainSelfCheck extends PeriodicWorker {
  constructor(
    private readonly verification: ChainVerificationService,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected start(): void {
    this.every(
      this.config.verifyIntervalMs,
      async () => {
        const report = await this.verification.verify();
        if (report.ok) this.logger.debug({ records: report.records, tookMs: report.tookMs }, 'audit log verified');
        else
          this.logger.error(
            { firstBreak: report.firstBreak, failures: report.failures, firstUnreadable: report.firstUnreadable },
            'audit log verification found a break',
          );
      },
      (error) => this.logger.warn({ err: error.message }, 'audit log verification could not run; trying again next interval'),
    );
  }
}
