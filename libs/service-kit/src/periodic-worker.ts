import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/backoff';

/**
 * A Nest provider that runs tasks on periods from bootstrap to shutdown: each task waits its
 * period, runs, and waits again; a failed run is reported and the task runs at the next
 * period. At shutdown no task starts again, and the runs under way finish.
 */
export abstract class PeriodicWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Aborted at shutdown. */
  protected readonly stopping = new AbortController();
  private readonly loops: Promise<void>[] = [];

  /** Starts the tasks (with {@link every}); called once at bootstrap. */
  protected abstract start(): void;

  onApplicationBootstrap(): void {
    this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
  }

  /** Runs `task` every `periodMs` (a period of 0 or less runs it never); `onError` hears of a failed run. */
  protected every(periodMs: number, task: () => Promise<unknown>, onError: (error: Error) => void): void {
    if (periodMs <= 0) return;
    const { signal } = this.stopping;
    this.loops.push(
      (async () => {
        while (!signal.aborted) {
          await sleep(periodMs, signal);
          if (signal.aborted) return;
          await task().catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))));
        }
      })(),
    );
  }
}
