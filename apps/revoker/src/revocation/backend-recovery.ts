import { Inject, Injectable } from '@nestjs/common';

import { BackendRegistry } from '@rotor/credential-backends';
import { LOGGER, PeriodicWorker } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { RevokerConfig } from '../config';
import { LeaseClock } from '../leases/lease-clock';
import { REVOKER_CONFIG } from '../platform/tokens';

/** Leases brought forward per round trip when a backend comes back. */
const RESUME_BATCH = 500;

/**
 * Tries a lease again as soon as its backend answers after an outage, not when its backoff
 * ends: a lease is overdue while it waits, and its backoff may have grown to a minute
 * (irrevocable) during a long outage. One ping per backend per interval stands in for a
 * retry per lease; only a backend seen down and then up releases its waiters, so a backend
 * that answers pings but refuses a revocation keeps the lease on its backoff.
 */
@Injectable()
export class BackendRecovery extends PeriodicWorker {
  private readonly seenDown = new Set<string>();

  constructor(
    private readonly clock: LeaseClock,
    private readonly backends: BackendRegistry,
    @Inject(REVOKER_CONFIG) private readonly config: RevokerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  protected start(): void {
    this.every(
      this.config.revocation.outageCheckMs,
      () => this.checkOnce(),
      (error) => this.logger.warn({ err: error.message }, 'could not look for backends back from an outage; looking again'),
    );
  }

  /** One look at every backend with waiters; returns how many leases were brought forward. */
  async checkOnce(): Promise<number> {
    let resumed = 0;
    for (const { name, check } of this.backends.readinessChecks()) {
      if (!this.seenDown.has(name) && !(await this.clock.hasOutageWaiters(name))) continue;
      if (!(await this.answers(check))) {
        this.seenDown.add(name);
        continue;
      }
      if (!this.seenDown.delete(name)) continue;
      let leases = 0;
      let taken: number;
      do {
        taken = await this.clock.resumeOutageWaiters(name, RESUME_BATCH);
        leases += taken;
      } while (taken === RESUME_BATCH && !this.stopping.signal.aborted);
      resumed += leases;
      if (leases > 0) this.logger.info({ backend: name, leases }, 'backend answers again; its waiting revocations are retried now');
    }
    return resumed;
  }

  private async answers(check: () => Promise<void>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer')), this.config.dependencyTimeoutMs);
    });
    try {
      await Promise.race([check(), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
