import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

import { sleep } from '@rotor/backoff';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { DISTRIBUTOR_CONFIG } from '../platform/tokens';
import { TargetWriters } from '../targets/target-writers';

import { DeliveryQueue, TARGET_KINDS, type TargetKind } from './delivery-queue';
import { DeliveryService } from './delivery.service';

/**
 * One claim loop per target kind, each with its own concurrency: jobs start as soon as a
 * slot frees, so one slow target occupies one slot, not a whole batch. Claims are atomic in
 * Redis, so any number of distributor replicas can run side by side.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stopping = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly depth;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly delivery: DeliveryService,
    private readonly writers: TargetWriters,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.depth = metrics.gauge('rotor_delivery_queue_depth', 'Delivery jobs queued or running, by target kind', ['kind']);
  }

  onApplicationBootstrap(): void {
    for (const kind of TARGET_KINDS) if (this.writers.has(kind)) this.loops.push(this.run(kind));
  }

  /** Lets running jobs finish; anything unfinished returns to the queue at its claim deadline. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
  }

  private async run(kind: TargetKind): Promise<void> {
    const limit = this.config.delivery.concurrency[kind];
    const { pollMs, visibilityMs } = this.config.delivery;
    const running = new Set<Promise<unknown>>();
    let sampledAt = 0;
    while (!this.stopping.signal.aborted) {
      if (Date.now() - sampledAt > 1_000) {
        sampledAt = Date.now();
        const size = await this.queue.schedules[kind].size().catch(() => undefined);
        if (size) this.depth.set({ kind }, size.due + size.inflight);
      }
      const free = limit - running.size;
      let claimed: string[] = [];
      if (free > 0) {
        try {
          claimed = await this.queue.schedules[kind].claimDue({ nowMs: Date.now(), limit: free, visibilityMs });
        } catch (error) {
          this.logger.error({ kind, err: (error as Error).message }, 'could not claim delivery jobs');
        }
      }
      for (const id of claimed) {
        const job = this.delivery.run(id).catch((error: unknown) => {
          // Left claimed: it returns to the queue when its deadline passes.
          this.logger.error({ kind, err: (error as Error).name }, 'delivery job crashed; the claim will be retried');
        });
        running.add(job);
        void job.finally(() => running.delete(job));
      }
      if (claimed.length === 0 || running.size >= limit) {
        await Promise.race([sleep(pollMs, this.stopping.signal), ...(running.size >= limit ? running : [])]);
      }
    }
    await Promise.all(running);
  }
}
