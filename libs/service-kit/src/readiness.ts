import { Inject, Injectable, Optional } from '@nestjs/common';

import { withTimeout } from '@rotor/backoff';
import type { Logger } from '@rotor/telemetry';

import { classifyDependencyFailure, type DependencyFailure } from './dependency-failure';
import { LOGGER } from './tokens';

export interface ReadinessCheck {
  /** The dependency's name as /readyz reports it: `kafka`, `redis`, `gsm`, `postgres`. */
  name: string;
  /** Resolves when the dependency answers; rejects with a reason otherwise. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  /** A failed check names only a reason class; the error itself goes to the log. */
  checks: Record<string, { ok: boolean; reason?: DependencyFailure; detail?: string; ms: number }>;
}

/** A check's own words, written by rotor and safe to show on /readyz (unlike a driver's error text). */
export class NotReady extends Error {
  constructor(
    message: string,
    readonly reason: DependencyFailure = 'unavailable',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const CHECK_TIMEOUT_MS = 2_000;

/** The dependencies a service needs to serve; each infra module registers its own check. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  /** Each dependency's last failure class, so the log says when it changes, not on every probe. */
  private readonly failing = new Map<string, DependencyFailure>();
  private readonly listeners: ((report: ReadinessReport) => void)[] = [];
  /** Reports are numbered as they start; a report that started before the last one told is stale. */
  private started = 0;
  private told = 0;

  constructor(@Optional() @Inject(LOGGER) private readonly logger?: Logger) {}

  register(check: ReadinessCheck): void {
    this.checks.set(check.name, check);
  }

  /**
   * Told every report, whoever asked for it (/readyz or the dependency gate's probe), newest
   * first-started wins: once /readyz has said ready, the gate knows it too.
   */
  onReport(listener: (report: ReadinessReport) => void): void {
    this.listeners.push(listener);
  }

  async report(): Promise<ReadinessReport> {
    const number = ++this.started;
    const report = await this.run();
    if (number > this.told) {
      this.told = number;
      for (const listener of this.listeners) listener(report);
    }
    return report;
  }

  private async run(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks.values()].map(async (dependency): Promise<[string, ReadinessReport['checks'][string]]> => {
        const started = Date.now();
        try {
          await withTimeout(dependency.check(), CHECK_TIMEOUT_MS);
          if (this.failing.delete(dependency.name)) this.logger?.info({ dependency: dependency.name }, 'readiness check passes again');
          return [dependency.name, { ok: true, ms: Date.now() - started }];
        } catch (error) {
          const reason = error instanceof NotReady ? error.reason : classifyDependencyFailure(error);
          const cause = error instanceof NotReady ? error.cause : error;
          if (this.failing.get(dependency.name) !== reason) {
            this.failing.set(dependency.name, reason);
            this.logger?.warn(
              { dependency: dependency.name, reason, err: cause instanceof Error ? cause.message : String(cause) },
              'readiness check failed',
            );
          }
          return [
            dependency.name,
            { ok: false, reason, ...(error instanceof NotReady ? { detail: error.message } : {}), ms: Date.now() - started },
          ];
        }
      }),
    );
    return { ready: entries.every(([, result]) => result.ok), checks: Object.fromEntries(entries) };
  }
}
