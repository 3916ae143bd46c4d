import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import { runClaimLoop, type ClaimLoopOptions } from '@rotor/redis-store';

export type ClaimLoopSpec = Omit<ClaimLoopOptions, 'signal'>;

/**
 * A Nest provider that runs its claim loops (`runClaimLoop`) from bootstrap to shutdown. At
 * shutdown the members in hand finish; unfinished claims return to the queue at their deadline.
 */
export abstract class ClaimLoopWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Aborted at shutdown; long handlers check it to hand their claim back early. */
  protected readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];

  /** The loops to run, read once at bootstrap. */
  protected abstract claimLoops(): ClaimLoopSpec[];

  onApplicationBootstrap(): void | Promise<void> {
    this.loops = this.claimLoops().map((spec) => runClaimLoop({ ...spec, signal: this.stopping.signal }));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
  }
}
