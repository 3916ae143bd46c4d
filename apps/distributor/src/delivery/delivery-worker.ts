import { Inject, Injectable } from '@nestjs/common';

import { ClaimLoopWorker, type ClaimLoopSpec } from '@rotor/nest-redis';
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
export class DeliveryWorker extends ClaimLoopWorker {
  private readonly depth;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly delivery: DeliveryService,
    private readonly writers: TargetWriters,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    super();
    this.depth = metrics.gauge('rotor_delivery_queue_depth', 'Delivery jobs queued or running, by target kind', ['kind']);
  }

  protected claimLoops(): ClaimLoopSpec[] {
    const { pollMs, visibilityMs } = this.config.delivery;
    return TARGET_KINDS.filter((kind) => this.writers.has(kind)).map((kind) => ({
      what: 'delivery job',
      schedule: this.queue.schedules[kind],
      pollMs,
      concurrency: this.config.delivery.concurrency[kind],
      visibilityMs,
      logger: this.logger,
      logFields: { kind },
      // A writer's error may quote what it was writing: only its name is logged.
      describeError: (error: unknown) => (error as Error).name,
      handle: (id: string) => this.delivery.run(id),
      onTurn: this.depthSampler(kind),
    }));
  }

  /** Samples the kind's queue depth at most once a second. */
  private depthSampler(kind: TargetKind): () => Promise<void> {
    let sampledAt = 0;
    return async () => {
      if (Date.now() - sampledAt <= 1_000) return;
      sampledAt = Date.now();
      const size = await this.queue.schedules[kind].size().catch(() => undefined);
      if (size) this.depth.set({ kind }, size.due + size.inflight);
    };
  }
}
