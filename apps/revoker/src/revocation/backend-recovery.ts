import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';

import { BackendRegistry } from '@rotor/credential-backends';
import { LOGGER, ReadinessRegistry, type ReadinessReport } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { LeaseClock } from '../leases/lease-clock';

/** Leases brought forward per round trip when a backend comes back. */
const RESUME_BATCH = 500;

/**
 * Tries a lease again as soon as its backend answers after an outage, not when its backoff
 * ends: a lease is overdue while it waits, and its backoff may have grown to a minute
 * (irrevocable) during a long outage. It pings nothing itself: it follows the readiness
 * reports the dependency gate takes every 500 ms, where each backend is a check named by its
 * kind. Only a backend seen down and then up releases its waiters, so a backend that answers
 * but refuses a revocation keeps the lease on its backoff.
 */
@Injectable()
export class BackendRecovery implements OnModuleInit {
  private readonly seenDown = new Set<string>();
  /** One release at a time: reports come every 500 ms, a release may take longer. */
  private releasing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly clock: LeaseClock,
    private readonly backends: BackendRegistry,
    private readonly readiness: ReadinessRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.readiness.onReport((report) => {
      this.releasing = this.releasing.then(() => this.follow(report));
    });
  }

  /** Takes one readiness report; returns how many leases were brought forward. */
  async follow(report: ReadinessReport): Promise<number> {
    let resumed = 0;
    for (const { name } of this.backends.readinessChecks()) {
      const check = report.checks[name];
      if (!check) continue;
      if (!check.ok) {
        this.seenDown.add(name);
        continue;
      }
      if (!this.seenDown.delete(name)) continue;
      try {
        resumed += await this.release(name);
      } catch (error) {
        // Redis away too: try again at the next report.
        this.seenDown.add(name);
        this.logger.warn({ backend: name, err: (error as Error).message }, 'could not bring forward the leases waiting for a backend');
      }
    }
    return resumed;
  }

  private async release(backend: string): Promise<number> {
    let leases = 0;
    let taken: number;
    do {
      taken = await this.clock.resumeOutageWaiters(backend, RESUME_BATCH);
      leases += taken;
    } while (taken === RESUME_BATCH);
    if (leases > 0) this.logger.info({ backend, leases }, 'backend answers again; its waiting revocations are retried now');
    return leases;
  }
}
