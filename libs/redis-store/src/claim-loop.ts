import { sleep } from '@rotor/backoff';
import { isDependencyOutage } from '@rotor/errors';

import type { DueSchedule } from './due-schedule';

/** After failed claims in a row, the pause doubles from the poll interval up to this (or the poll interval, if longer). */
const MAX_ERROR_PAUSE_MS = 5_000;
/** Pauses between tries of a member whose handler met a dependency outage: doubling from the first to the most. */
const OUTAGE_RETRY_FIRST_MS = 100;
const OUTAGE_RETRY_MAX_MS = 2_000;

/** The one kind of line a claim loop writes; a pino logger fits. */
export interface ClaimLoopLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface ClaimLoopOptions {
  /** Names the work in log lines, e.g. `lease revocation`. */
  what: string;
  schedule: Pick<DueSchedule, 'claimDue'>;
  /** Handlers running at once. */
  concurrency: number;
  /**
   * Members held at once, running or claimed and waiting for a slot (at least `concurrency`,
   * the default). More than `concurrency` claims ahead in fewer round trips; each held member's
   * visibility deadline runs while it waits.
   */
  batch?: number;
  /** The pause when nothing is due, and the first pause after a failed claim. */
  pollMs: number;
  visibilityMs: number;
  signal: AbortSignal;
  logger: ClaimLoopLogger;
  /**
   * Handles one claimed member and acknowledges it (completes or reschedules its claim) once
   * its effect is durable. If it throws, the member stays claimed and returns to the queue at
   * its visibility deadline, for any replica to retry.
   */
  handle(member: string): Promise<unknown>;
  /** Fields added to every log line, e.g. `{ kind }`. */
  logFields?: Record<string, unknown>;
  /** What a failed handler's log line says of its error; the message by default. */
  describeError?(error: unknown): string;
  /** Runs at every turn of the loop, at least every `pollMs` (e.g. to sample the queue's depth). */
  onTurn?(): Promise<void>;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Claims due members of a schedule and runs them with bounded concurrency: a member starts as
 * soon as a slot frees, so one slow member holds one slot, not a batch. It claims again at once
 * while claims come back full, waits `pollMs` when nothing more is due, and backs off when
 * claiming fails. Nothing is held between polls but the claims themselves, which are atomic
 * in Redis, so any number of replicas can run the same loop. When `signal` aborts it claims no
 * more and returns once the members in hand are done.
 */
export async function runClaimLoop(options: ClaimLoopOptions): Promise<void> {
  const { what, schedule, concurrency, pollMs, visibilityMs, signal, logger, logFields } = options;
  const batch = Math.max(options.batch ?? concurrency, concurrency);
  const describeError = (error: unknown) => (options.describeError ? options.describeError(error) : messageOf(error));
  const waiting: { member: string; claimedAt: number }[] = [];
  const running = new Set<Promise<void>>();
  let failedClaims = 0;

  // A dependency outage (a Redis failover, a broker election) usually ends within seconds: the
  // member is tried again while its claim is surely still ours (half its visibility), instead of
  // waiting out the whole visibility deadline (30 s late revocations in the chaos run, issue 15).
  const handleWhileClaimed = async (member: string, claimedAt: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await options.handle(member);
        return;
      } catch (error) {
        const delay = Math.min(OUTAGE_RETRY_MAX_MS, OUTAGE_RETRY_FIRST_MS * 2 ** (attempt - 1));
        if (!isDependencyOutage(error) || signal.aborted || Date.now() + delay > claimedAt + visibilityMs / 2) throw error;
        await sleep(delay, signal);
      }
    }
  };

  const startWhileFree = () => {
    while (waiting.length > 0 && running.size < concurrency) {
      const { member, claimedAt } = waiting.shift()!;
      const job: Promise<void> = Promise.resolve()
        .then(() => handleWhileClaimed(member, claimedAt))
        .then(
          () => undefined,
          (error: unknown) =>
            logger.error({ ...logFields, member, err: describeError(error) }, `${what} failed; the claim will be retried`),
        )
        .finally(() => running.delete(job));
      running.add(job);
    }
  };

  while (!signal.aborted) {
    await options.onTurn?.().catch(() => undefined);
    startWhileFree();
    if (running.size >= concurrency) {
      // Every slot is busy: go on when one frees (or after a poll interval, for onTurn).
      await Promise.race([sleep(pollMs, signal), ...running]);
      continue;
    }
    const limit = batch - running.size - waiting.length;
    let claimed: string[];
    const claimedAt = Date.now();
    try {
      claimed = await schedule.claimDue({ nowMs: claimedAt, limit, visibilityMs });
      failedClaims = 0;
    } catch (error) {
      failedClaims++;
      logger.error({ ...logFields, err: messageOf(error) }, `could not claim due ${what} work`);
      await sleep(Math.min(Math.max(pollMs, MAX_ERROR_PAUSE_MS), pollMs * 2 ** (failedClaims - 1)), signal);
      continue;
    }
    waiting.push(...claimed.map((member) => ({ member, claimedAt })));
    startWhileFree();
    // A full claim means more may be due: go again at once.
    if (claimed.length < limit) await sleep(pollMs, signal);
  }

  // Stopping: the members in hand finish; a claim cut short returns at its deadline anyway.
  while (waiting.length > 0 || running.size > 0) {
    startWhileFree();
    await Promise.race(running);
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first failure. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
