import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { AuditDatabase, ChainState, MonthlyPartitions } from '@rotor/audit-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

const EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The retention policy (docs/audit-retention.md): event ids are remembered for the dedupe window
 * (ROTOR_AUDIT_DEDUPE_DAYS), and with ROTOR_AUDIT_ONLINE_MONTHS set, months of records older than
 * that are detached from the views, left in the schema for archiving. The audit topic is never
 * deleted, so a rebuild can always bring everything back. Hourly, on every replica (idempotent).
 */
@Injectable()
export class AuditRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private readonly partitions: MonthlyPartitions;

  constructor(
    db: AuditDatabase,
    private readonly chains: ChainState,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.partitions = new MonthlyPartitions(db.pool);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.apply().catch((error: unknown) => this.logger.warn({ err: error }, 'audit retention failed')),
      EVERY_MS,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async apply(now = Date.now()): Promise<{ seenForgotten: number; detached: string[] }> {
    const { dedupeDays, onlineMonths } = this.config.retention;
    const seenForgotten = await this.chains.pruneSeen(new Date(now - dedupeDays * DAY_MS));
    let detached: string[] = [];
    if (onlineMonths > 0) {
      const cutoff = new Date(now);
      cutoff.setUTCMonth(cutoff.getUTCMonth() - onlineMonths);
      detached = await this.partitions.detachBefore(cutoff.getTime());
    }
    if (seenForgotten || detached.length) this.logger.info({ seenForgotten, detached }, 'audit retention applied');
    return { seenForgotten, detached };
  }
}
