import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/backoff';
import type { DueSchedule } from '@rotor/redis-store';
import type { Logger } from '@rotor/telemetry';

export interface ClaimLoopOptions {
  what: string;
  schedule: DueSchedule;
  pollMs: number;
  batch: number;
  concurrency: number;
  visibilityMs: number;
  signal: AbortSignal;
  logger: Logger;
  /** Handles one claimed member; it completes or reschedules the claim itself. */
  handle(member: string): Promise<unknown>;
}

/**
 * Claims due members of a schedule and hands them to `handle` with bounded concurrency.
 * A member whose handler throws stays claimed and returns to the queue at its visibility
 * deadline, so any replica retries it; nothing is held in memory between polls.
 */
export async function runClaimLoop(options: ClaimLoopOptions): Promise<void> {
  const { schedule, pollMs, batch, concurrency, visibilityMs, signal, logger } = options;
  while (!signal.aborted) {
    let claimed: string[] = [];
    try {
      claimed = await schedule.claimDue({ nowMs: Date.now(), limit: batch, visibilityMs });
      await forEachLimited(claimed, concurrency, (member) =>
        options.handle(member).catch((error: unknown) => {
          logger.error({ member, err: (error as Error).message }, `${options.what} step failed; the claim will be retried`);
        }),
      );
    } catch (error) {
      logger.error({ err: (error as Error).message }, `could not claim due ${options.what} work`);
    }
    // A full batch means more is due: go again at once.
    if (claimed.length < batch) await sleep(pollMs, signal);
  }
}

export async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/**
 * A Nest provider that runs one claim loop from bootstrap to shutdown. At shutdown it lets
 * the batch in hand finish; unfinished claims return to the queue at their deadline anyway.
 */
export abstract class ClaimLoopWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Aborted at shutdown; long handlers check it to hand their claim back early. */
  protected readonly stopping = new AbortController();
  private loop?: Promise<void>;

  protected abstract claimLoop(): Omit<ClaimLoopOptions, 'signal'>;

  onApplicationBootstrap(): void {
    this.loop = runClaimLoop({ ...this.claimLoop(), signal: this.stopping.signal });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
