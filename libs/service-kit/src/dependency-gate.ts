import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { DomainError } from '@rotor/errors';

import { ReadinessRegistry } from './readiness';

/** How often the dependencies are probed; a probe itself gives up after 2 s (ReadinessRegistry). */
const PROBE_INTERVAL_MS = 500;

/**
 * Fail fast (issue 15, item 0): the same checks as /readyz, run in the background, so a
 * request that needs a dependency known to be down is refused at once with 503 and
 * Retry-After, before anything is minted, instead of hanging on a client's retries.
 */
@Injectable()
export class DependencyGate implements OnModuleInit, OnApplicationShutdown {
  private down = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly readiness: ReadinessRegistry) {}

  onModuleInit(): void {
    const probe = async () => {
      const report = await this.readiness.report();
      this.down = new Set(
        Object.entries(report.checks)
          .filter(([, check]) => !check.ok)
          .map(([name]) => name),
      );
      if (!this.stopped) this.timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS).unref();
    };
    // The first probe runs once the app is up; until then nothing is known to be down.
    this.timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Throws 503 `<dependency>-unavailable` (e.g. `kafka-unavailable`) when one of `needed` failed its last probe. */
  assertAvailable(needed: readonly string[]): void {
    const missing = needed.filter((name) => this.down.has(name));
    if (missing.length > 0) {
      throw new DomainError(
        'unavailable',
        `${missing[0]}-unavailable`,
        `${missing.join(', ')} unavailable; nothing was issued, retry later`,
        { retryAfterSeconds: 5 },
      );
    }
  }
}
