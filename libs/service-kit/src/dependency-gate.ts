import {
  applyDecorators,
  Inject,
  Injectable,
  Optional,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { DomainError } from '@rotor/errors';

import { ReadinessRegistry } from './readiness';
import { DEFAULT_DEPENDENCY_TIMEOUT_MS, DEPENDENCY_TIMEOUT_MS } from './tokens';

/** How often the dependencies are probed; a probe itself gives up after 2 s (ReadinessRegistry). */
const PROBE_INTERVAL_MS = 500;
const RETRY_AFTER_SECONDS = 5;

/** The 503 a request gets when a dependency it needs is down or too slow: `kafka-unavailable`, `redis-unavailable`… */
export const dependencyUnavailable = (dependency: string, detail: string, cause?: unknown): DomainError =>
  new DomainError('unavailable', `${dependency}-unavailable`, detail, { retryAfterSeconds: RETRY_AFTER_SECONDS, cause });

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
  /** How long a request path waits for one dependency call (ROTOR_DEPENDENCY_TIMEOUT_MS). */
  readonly timeoutMs: number;

  constructor(
    private readonly readiness: ReadinessRegistry,
    @Optional() @Inject(DEPENDENCY_TIMEOUT_MS) timeoutMs?: number,
  ) {
    this.timeoutMs = timeoutMs ?? DEFAULT_DEPENDENCY_TIMEOUT_MS;
    // Every report counts, /readyz's too: a service that said ready must not refuse the next
    // request on an older probe's result (seen: a probe taken while its consumers were starting).
    readiness.onReport((report) => {
      this.down = new Set(
        Object.entries(report.checks)
          .filter(([, check]) => !check.ok)
          .map(([name]) => name),
      );
    });
  }

  onModuleInit(): void {
    const probe = async () => {
      await this.readiness.report();
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
      throw dependencyUnavailable(missing[0]!, `${missing.join(', ')} unavailable; nothing was done, retry later`);
    }
  }

  /**
   * `call`'s result, or 503 `<dependency>-unavailable` once it has taken longer than the
   * timeout (ROTOR_DEPENDENCY_TIMEOUT_MS unless given). The call itself is not cancelled: the
   * caller undoes what it may still do.
   */
  async bounded<T>(dependency: string, call: Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(dependencyUnavailable(dependency, `${dependency} did not answer within ${Math.round(timeoutMs)} ms; retry later`)),
        timeoutMs,
      );
    });
    call.catch(() => undefined); // a late failure after the timeout is already answered
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A time budget for one request that calls several dependencies in turn (see {@link RequestBudget}). */
  budget(totalMs = this.timeoutMs): RequestBudget {
    return new RequestBudget(this, totalMs);
  }
}

/**
 * One time budget for a request that calls several dependencies in turn: each call gets what is
 * left of it, so a request that meets several slow dependencies (a Redis failing over, then a
 * backend whose link is cut) still answers 503 within the budget, not within one timeout per call.
 */
export class RequestBudget {
  private readonly deadline: number;

  constructor(
    private readonly gate: DependencyGate,
    totalMs: number,
  ) {
    this.deadline = Date.now() + totalMs;
  }

  /** What is left, and at least `floorMs` (a step that must get a chance, such as an undo). */
  remainingMs(floorMs = 1): number {
    return Math.max(floorMs, this.deadline - Date.now());
  }

  /** `call`'s result, or 503 `<dependency>-unavailable` once the budget (or `floorMs`) is spent. */
  bounded<T>(dependency: string, call: Promise<T>, floorMs = 1): Promise<T> {
    return this.gate.bounded(dependency, call, this.remainingMs(floorMs));
  }
}

const NEEDS = 'rotor:needs-dependencies';

/** Refuses a route with 503 at once while a dependency it declared with `@Needs` is known to be down. */
@Injectable()
export class DependencyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly gate: DependencyGate,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    this.gate.assertAvailable(this.reflector.get<string[] | undefined>(NEEDS, context.getHandler()) ?? []);
    return true;
  }
}

/**
 * The dependencies (names as /readyz reports them) a route cannot answer without. Put on the
 * handler: it runs after the class's guards, so callers are authenticated first.
 */
export const Needs = (...dependencies: string[]) => applyDecorators(SetMetadata(NEEDS, dependencies), UseGuards(DependencyGuard));
