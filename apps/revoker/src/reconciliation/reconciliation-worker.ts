import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/backoff';
import { REDIS } from '@rotor/nest-redis';
import { withLock, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
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
export class ReconciliationWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly orphans: OrphanSweep,
    private readonly withdrawals: CatalogWithdrawal,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
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

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      await sleep(this.config.reconciliation.intervalMs, signal);
      if (signal.aborted) return;
      try {
        const result = await this.runOnce();
        if (result && (result.orphans.revoked || result.withdrawals.requested || result.orphans.waiting || result.withdrawals.waiting))
          this.logger.info(result, 'reconciliation sweep');
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'reconciliation sweep failed; trying again at the next interval');
      }
    }
  }
}
