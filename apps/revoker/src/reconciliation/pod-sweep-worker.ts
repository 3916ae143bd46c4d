import { Inject, Injectable } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { withLock, type Redis } from '@rotor/redis-store';
import { LOGGER, PeriodicWorker } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { REVOKER_CONFIG } from '../platform/tokens';

import { PodSweep, type PodSweepResult } from './pod-sweep';

const LOCK_KEY = 'revoker:pod-sweep:lock';

/**
 * Runs the pod sweep every ROTOR_POD_SWEEP_MS, one replica at a time (a lock that expires by
 * itself). Only wired in when an API server is configured; a failed sweep is logged and tried
 * again at the next interval.
 */
@Injectable()
export class PodSweepWorker extends PeriodicWorker {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly sweep: PodSweep,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected start(): void {
    const { intervalMs, marginMs } = this.config.podSweep;
    this.logger.info({ intervalMs, marginMs }, 'pod sweep on: leases end with the pod their token named');
    this.every(
      this.config.podSweep.intervalMs,
      async () => {
        const result = await this.runOnce();
        if (result && (result.requested || result.failedNamespaces)) this.logger.info(result, 'pod sweep');
      },
      (error) => this.logger.error({ err: error.message }, 'pod sweep failed; trying again at the next interval'),
    );
  }

  /** One sweep under the lock; undefined when another replica holds it. */
  runOnce(): Promise<PodSweepResult | undefined> {
    return withLock(this.redis, { key: LOCK_KEY, ttlMs: Math.max(this.config.podSweep.intervalMs, 60_000) }, () => this.sweep.sweep());
  }
}
