import { Inject, Injectable } from '@nestjs/common';

import type { Target } from '@rotor/catalog';
import { byKind, TargetKindSchema, type TargetKind } from '@rotor/contracts';
import { REDIS } from '@rotor/nest-redis';
import { acquireLock, DueSchedule, type Redis } from '@rotor/redis-store';
import { traceparentOf } from '@rotor/telemetry';

export type { TargetKind };
export const TARGET_KINDS: readonly TargetKind[] = TargetKindSchema.options;

/** One unit of work: put a version at a target, or take it away. */
export interface DeliveryJob {
  op: 'deliver' | 'remove';
  secret: string;
  version: number;
  gsmVersion: string;
  /** The target as the catalog declared it when the job was made, so removal works after a catalog change. */
  target: Target;
  /** When the version was created (its secret.version-created event): delivery latency counts from here. Absent on drift repairs. */
  versionCreatedAt?: string;
  attempts: number;
  /** The trace of the event that asked for it (a rotation's): the delivery continues it. Absent when tracing is off. */
  traceparent?: string;
}

export const jobId = (job: Pick<DeliveryJob, 'op' | 'secret' | 'version' | 'target'>) =>
  `${job.op}|${job.secret}|${job.version}|${job.target.name}`;
const jobKey = (id: string) => `distributor:job:{${id}}`;
const lockKey = (secret: string, targetName: string) => `distributor:lock:{${secret}|${targetName}}`;

/**
 * Durable delivery jobs: a hash per job and one due-time schedule per target kind, so each
 * kind has its own claim loop and a slow kind never holds up the others. A claim not
 * completed by its deadline (a crashed distributor) returns to the queue.
 */
@Injectable()
export class DeliveryQueue {
  readonly schedules: Readonly<Record<TargetKind, DueSchedule>>;

  constructor(@Inject(REDIS) private readonly redis: Redis) {
    this.schedules = byKind(TARGET_KINDS, (kind) => new DueSchedule(redis, { prefix: `distributor:schedule:${kind}` }));
  }

  /** Enqueues a job unless the same job is already queued or running. */
  async enqueue(job: Omit<DeliveryJob, 'attempts' | 'traceparent'>, dueAtMs = Date.now()): Promise<void> {
    const id = jobId(job);
    const traceparent = traceparentOf();
    await this.redis.hsetnx(jobKey(id), 'job', JSON.stringify({ ...job, attempts: 0, ...(traceparent ? { traceparent } : {}) }));
    await this.schedules[job.target.kind].scheduleIfAbsent(id, dueAtMs);
  }

  async get(id: string): Promise<DeliveryJob | undefined> {
    const text = await this.redis.hget(jobKey(id), 'job');
    return text ? (JSON.parse(text) as DeliveryJob) : undefined;
  }

  async retryLater(job: DeliveryJob, dueAtMs: number): Promise<void> {
    await this.redis.hset(jobKey(jobId(job)), 'job', JSON.stringify(job));
    await this.schedules[job.target.kind].schedule(jobId(job), dueAtMs);
  }

  async finish(id: string, kind: TargetKind): Promise<void> {
    await this.schedules[kind].complete(id);
    await this.redis.del(jobKey(id));
  }

  /** Cancels a queued job (e.g. a delivery of a version retired before it went out). */
  async cancel(job: Pick<DeliveryJob, 'op' | 'secret' | 'version' | 'target'>): Promise<void> {
    await this.schedules[job.target.kind].cancel(jobId(job));
    await this.redis.del(jobKey(jobId(job)));
  }

  /**
   * One writer per target at a time, across replicas: jobs for the same target (a retry of
   * version 3 and the first try of version 4) must not interleave their reads and writes.
   */
  lockTarget(secret: string, targetName: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    return acquireLock(this.redis, lockKey(secret, targetName), ttlMs);
  }

  async depth(): Promise<Record<TargetKind, number>> {
    const sizes = new Map(
      await Promise.all(
        TARGET_KINDS.map(async (kind) => {
          const size = await this.schedules[kind].size();
          return [kind, size.due + size.inflight] as const;
        }),
      ),
    );
    return byKind(TARGET_KINDS, (kind) => sizes.get(kind) ?? 0);
  }
}
