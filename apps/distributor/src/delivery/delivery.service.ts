import { Inject, Injectable, Optional } from '@nestjs/common';

import { backoffDelay } from '@rotor/backoff';
import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { LOGGER } from '@rotor/service-kit';
import { contextFromTraceparent, inSpan, Metrics, type Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { DISTRIBUTOR_CONFIG } from '../platform/tokens';
import { WORKLOAD_ROLLOUT, WorkloadRollout, type RolledWorkload } from '../rollout/workload-rollout';
import { TargetRefusedError } from '../targets/target-writer';
import { TargetWriters } from '../targets/target-writers';

import { DeliveryLedger, type CopyRef } from './delivery-ledger';
import { DeliveryQueue, jobId, type DeliveryJob } from './delivery-queue';
import { contentHashFields } from './content-hasher';
import { describeFailure } from './describe-failure';
import { ValueReader } from './value-reader';

export type JobOutcome = 'delivered' | 'removed' | 'skipped' | 'busy' | 'failed' | 'gone';

const source = '/rotor/distributor';

/**
 * The Secret holds the new version, but rolling the workloads that use it failed: the job is
 * retried (the write then finds the Secret unchanged and only the rollout runs again), and the
 * copy stays recorded as delivered. `delivery.completed` waits for the rollout, so the revoker
 * does not retire the previous version early while pods may still run with it.
 */
export class RolloutFailedError extends Error {
  override readonly name = 'RolloutFailedError';
  constructor(override readonly cause: unknown) {
    super('rolling the workloads that use the Secret failed');
  }
}

/** The ledger entry a job writes: its version at its target, or `version` there (the one it supersedes). */
const copyOf = (job: DeliveryJob, version = job.version): CopyRef => ({ secret: job.secret, version, targetName: job.target.name });

/**
 * Runs one claimed job. Delivery: read the value → conditional write → `delivery.completed`
 * → ledger. Removal: conditional delete → `delivery.removed` → ledger. Event ids are derived
 * from (secret, version, target), so a job repeated after a crash publishes nothing new
 * downstream; the writes themselves are idempotent, so the effect is one delivery.
 */
@Injectable()
export class DeliveryService {
  private readonly outcomes;
  private readonly copySeconds;
  private readonly latency;

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly ledger: DeliveryLedger,
    private readonly writers: TargetWriters,
    private readonly values: ValueReader,
    private readonly publisher: EventPublisher,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
    /** Absent without a cluster; then no Secret is written either, so nothing is left to roll. */
    @Optional() @Inject(WORKLOAD_ROLLOUT) private readonly rollout?: WorkloadRollout,
  ) {
    this.outcomes = metrics.counter('rotor_delivery_jobs_total', 'Delivery jobs run, by target kind, operation and outcome', [
      'kind',
      'op',
      'outcome',
    ]);
    this.copySeconds = metrics.histogram(
      'rotor_delivery_copy_seconds',
      'Time to write or remove one copy',
      ['kind', 'op'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    );
    this.latency = metrics.latencyHistogram(
      'rotor_delivery_latency_seconds',
      'Time from a version being created to its copy being delivered, by target kind',
      ['kind'],
      [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    );
  }

  async run(id: string): Promise<JobOutcome> {
    const job = await this.queue.get(id);
    if (!job) {
      // Finished by another replica after our claim expired, or cancelled: nothing to do.
      for (const schedule of Object.values(this.queue.schedules)) await schedule.complete(id);
      return 'gone';
    }
    // The asking event's trace goes on (a rotation: version created → this copy → delivery.completed).
    return inSpan(
      `${job.op} copy`,
      {
        parent: contextFromTraceparent(job.traceparent),
        attributes: { 'rotor.secret': job.secret, 'rotor.secret.version': job.version, 'rotor.target.kind': job.target.kind },
      },
      () => this.runLocked(id, job),
    );
  }

  private async runLocked(id: string, job: DeliveryJob): Promise<JobOutcome> {
    const unlock = await this.queue.lockTarget(job.secret, job.target.name, this.config.delivery.visibilityMs);
    if (!unlock) {
      await this.queue.retryLater(job, Date.now() + 250);
      return 'busy';
    }
    const started = performance.now();
    try {
      const outcome = job.op === 'deliver' ? await this.deliver(job) : await this.remove(job);
      await this.queue.finish(id, job.target.kind);
      this.outcomes.inc({ kind: job.target.kind, op: job.op, outcome });
      this.copySeconds.observe({ kind: job.target.kind, op: job.op }, (performance.now() - started) / 1000);
      if (outcome === 'delivered' && job.versionCreatedAt)
        this.latency.observe({ kind: job.target.kind }, Math.max(0, Date.now() - Date.parse(job.versionCreatedAt)) / 1000);
      return outcome;
    } catch (error) {
      await this.recordFailure(job, error);
      this.outcomes.inc({ kind: job.target.kind, op: job.op, outcome: 'failed' });
      return 'failed';
    } finally {
      await unlock();
    }
  }

  private async deliver(job: DeliveryJob): Promise<JobOutcome> {
    if (await this.ledger.isRetired(job.secret, job.version)) {
      await this.ledger.update(copyOf(job), { state: 'skipped', lastError: 'retired before delivery' });
      return 'skipped';
    }
    const value = await this.values.read(job.secret, job.version);
    const contentHash = this.values.contentHash(value);
    const writer = this.writers.for(job.target);
    const outcome = await writer.write(job.target, {
      secret: job.secret,
      version: job.version,
      gsmVersion: job.gsmVersion,
      contentHash,
      value,
    });
    if (outcome.kind === 'superseded') {
      await this.ledger.update(copyOf(job), { state: 'skipped', locator: outcome.locator });
      return 'skipped';
    }
    // Also on `unchanged`: a job repeated after a crash between the write and the rollout rolls then.
    const rollout = await this.rollOut(job, contentHash);
    const deliveredAt = new Date();
    if (!('failed' in rollout))
      await this.publisher.publish(
        createEvent({
          topic: Topics.deliveryCompleted,
          id: `${job.secret}:${job.version}:${job.target.name}:delivered`,
          source,
          subject: job.secret,
          data: {
            secret: job.secret,
            version: job.version,
            target: { kind: job.target.kind, name: job.target.name },
            locator: outcome.locator,
            ...contentHashFields(contentHash),
            deliveredAt: deliveredAt.toISOString(),
            ...(rollout.rolled ? { rollout: rollout.rolled } : {}),
          },
        }),
        { key: job.secret },
      );
    const previous = await this.ledger.held(job.secret, job.target.name);
    await this.ledger.setHeld(job.secret, job.target.name, {
      version: job.version,
      gsmVersion: job.gsmVersion,
      contentHash,
      locator: outcome.locator,
    });
    await this.ledger.update(copyOf(job), { state: 'delivered', locator: outcome.locator, contentHash });
    if (previous && previous.version < job.version) await this.supersede(job, previous.version, outcome.locator);
    if ('failed' in rollout) throw new RolloutFailedError(rollout.failed);
    this.logger.info(
      {
        secret: job.secret,
        version: job.version,
        target: job.target.name,
        kind: job.target.kind,
        outcome: outcome.kind,
        ...(rollout.rolled ? { rolled: rollout.rolled.filter((w) => w.patched).map((w) => `${w.kind}/${w.name}`) } : {}),
      },
      'copy delivered',
    );
    return 'delivered';
  }

  /**
   * Rolls the workloads using a kubernetes-secret target's Secret when the target opted in.
   * `rolled` is undefined for targets without rollout; a failure is returned, not thrown, so
   * the copy is still recorded before the job is retried.
   */
  private async rollOut(job: DeliveryJob, contentHash: string): Promise<{ rolled?: RolledWorkload[] } | { failed: unknown }> {
    if (job.target.kind !== 'kubernetes-secret' || !job.target.rollout) return {};
    if (!this.rollout)
      return { failed: new TargetRefusedError('no Kubernetes API configured: set KUBECONFIG or run the distributor in a cluster') };
    try {
      return { rolled: await this.rollout.rollOut(job.target, contentHash) };
    } catch (error) {
      return { failed: error };
    }
  }

  /** The target held an older version: writing the new one replaced it, so that copy is gone. */
  private async supersede(job: DeliveryJob, oldVersion: number, locator: string): Promise<void> {
    await this.publishRemoved(job, { version: oldVersion, locator, reason: 'superseded' });
    await this.ledger.update(copyOf(job, oldVersion), { state: 'removed' });
  }

  private async remove(job: DeliveryJob): Promise<JobOutcome> {
    const outcome = await this.writers
      .for(job.target)
      .remove(job.target, { secret: job.secret, version: job.version, gsmVersion: job.gsmVersion });
    const copy = await this.ledger.get(job.secret, job.version, job.target.name);
    // A copy already superseded in place was reported removed then; it is not removed twice.
    const wasAtTarget =
      copy?.state !== 'removed' && (outcome.kind === 'removed' || copy?.state === 'delivered' || copy?.state === 'removal-failed');
    if (wasAtTarget) await this.publishRemoved(job, { version: job.version, locator: outcome.locator, reason: 'retired' });
    if (wasAtTarget) await this.ledger.update(copyOf(job), { state: 'removed' });
    else if (copy?.state !== 'removed') await this.ledger.update(copyOf(job), { state: 'skipped', lastError: 'retired before delivery' });
    await this.ledger.clearHeld(job.secret, job.target.name, job.version);
    this.logger.info({ secret: job.secret, version: job.version, target: job.target.name, outcome: outcome.kind }, 'copy removed');
    return 'removed';
  }

  /** `version`: the version removed from the job's target (for a supersession, the one before the job's). */
  private async publishRemoved(
    job: DeliveryJob,
    { version, locator, reason }: { version: number; locator: string; reason: 'superseded' | 'retired' | 'drift-repair' },
  ): Promise<void> {
    const secret = job.secret;
    await this.publisher.publish(
      createEvent({
        topic: Topics.deliveryRemoved,
        id: `${secret}:${version}:${job.target.name}:removed`,
        source,
        subject: secret,
        data: {
          secret,
          version,
          target: { kind: job.target.kind, name: job.target.name },
          locator,
          reason,
          removedAt: new Date().toISOString(),
        },
      }),
      { key: secret },
    );
  }

  /** Every failure is retried with backoff and published; a copy is never given up on. */
  private async recordFailure(job: DeliveryJob, error: unknown): Promise<void> {
    const attempts = job.attempts + 1;
    const rolloutFailed = error instanceof RolloutFailedError;
    const prefix = job.op === 'remove' ? 'remove: ' : rolloutFailed ? 'rollout: ' : '';
    const reason = `${prefix}${describeFailure(rolloutFailed ? error.cause : error)}`;
    const delay = Math.max(
      100,
      backoffDelay(attempts, { initialMs: 500, maxMs: this.config.delivery.maxBackoffMs, maxAttempts: Number.MAX_SAFE_INTEGER }),
    );
    try {
      await this.queue.retryLater({ ...job, attempts }, Date.now() + delay);
      // A failed rollout leaves the copy delivered (the Secret holds it) with the reason beside it.
      await this.ledger.update(copyOf(job), {
        ...(rolloutFailed ? {} : { state: job.op === 'deliver' ? 'failed' : 'removal-failed' }),
        attempts,
        lastError: reason,
      });
      await this.publisher.publish(
        createEvent({
          topic: Topics.deliveryFailed,
          id: `${jobId(job)}:failed:${attempts}`,
          source,
          subject: job.secret,
          data: {
            secret: job.secret,
            version: job.version,
            target: { kind: job.target.kind, name: job.target.name },
            reason,
            attempt: attempts,
          },
        }),
        { key: job.secret },
      );
    } catch (recordError) {
      // The claim stays in flight and returns to the queue at its deadline: still not lost.
      this.logger.error(
        { secret: job.secret, target: job.target.name, err: describeFailure(recordError) },
        'could not record a delivery failure',
      );
    }
    const log = error instanceof TargetRefusedError ? this.logger.error.bind(this.logger) : this.logger.warn.bind(this.logger);
    log(
      { secret: job.secret, version: job.version, target: job.target.name, op: job.op, attempts, retryInMs: delay, reason },
      'copy failed; will retry',
    );
  }
}
