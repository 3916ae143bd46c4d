import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { withLock, type Redis } from '@rotor/redis-store';
import { LOGGER, PeriodicWorker } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { REVOKER_CONFIG } from '../platform/tokens';

import { CatalogWithdrawal } from './catalog-withdrawal';
import { OrphanSweep } from './orphan-sweep';

const LOCK_KEY = 'revoker:reconcile:lock';

/**
 * Runs the reconciliation sweeps every interval, one replica at a time (a lock that expires
 * by itself, so a crashed holder does not stop the sweeps). A failed sweep is logged and
 * tried again at the next interval; each sweep is idempotent.
 */
@Injectable()
export class ReconciliationWorker extends PeriodicWorker {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly orphans: OrphanSweep,
    private readonly withdrawals: CatalogWithdrawal,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected start(): void {
    this.every(
      this.config.reconciliation.intervalMs,
      async () => {
        const result = await this.runOnce();
        if (result && (result.orphans.revoked || result.withdrawals.requested || result.orphans.waiting || result.withdrawals.waiting))
          this.logger.info(result, 'reconciliation sweep');
      },
      (error) => this.logger.error({ err: error.message }, 'reconciliation sweep failed; trying again at the next interval'),
    );
  }

  /** One round of both sweeps under the lock; undefined when another replica holds it. */
  async runOnce(): Promise<
    { orphans: Awaited<ReturnType<OrphanSweep['sweep']>>; withdrawals: Awaited<ReturnType<CatalogWithdrawal['sweep']>> } | undefined
  > {
    const lockMs = Math.max(this.config.reconciliation.intervalMs, 60_000);
    return withLock(this.redis, { key: LOCK_KEY, ttlMs: lockMs }, async () => ({
      orphans: await this.orphans.sweep(),
      withdrawals: await this.withdrawals.sweep(),
    }));
  }
}
