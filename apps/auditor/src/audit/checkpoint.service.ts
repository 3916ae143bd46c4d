import { randomUUID } from 'node:crypto';

import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Partitioners, type Kafka } from 'kafkajs';

import { signCheckpoint } from '@rotor/audit-chain';
import type { AuditCheckpoint } from '@rotor/contracts';
import { KAFKA } from '@rotor/nest-kafka';
import { LOGGER, NotReady, ReadinessRegistry } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AuditLogProducer } from './audit-log-producer';
import { AuditSigningKeys } from './audit-signing-keys';
import { AuditStateInitializer } from './audit-state-initializer';
import { CheckpointArchive } from './checkpoint-archive';
import { CheckpointStore, type CheckpointState } from './checkpoint.store';

/** Longer than a checkpoint takes (a scan of the heads, one produce, one GSM write). */
const LOCK_MS = 30_000;

/** The audit topic partition of a chain: the producer's own key → partition mapping (murmur2). */
const keyPartitioner = Partitioners.DefaultPartitioner();
const partitionOf = (topic: string, chain: string, partitions: number): number =>
  keyPartitioner({
    topic,
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key: chain, value: null },
  });

/**
 * Signs the head of every chain every interval or every N records, whichever comes first, and
 * appends the checkpoint to every partition of the audit topic (each partition's copy vouches
 * for the chains in it, in the partition's own order), then keeps it in GSM. One replica signs
 * at a time (a lock in its database); the heads are read from there, where a head moves only once its
 * records are in Kafka, so a checkpoint never vouches for a record the log does not hold.
 *
 * The first checkpoint is written before the first SHA-256 record: for chains written by the
 * previous auditor it is the signed transition from their HMAC links.
 */
@Injectable()
export class CheckpointService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private started?: Promise<void>;
  private lastWritten = Date.now();
  private readonly written;
  private readonly failures;

  constructor(
    private readonly store: CheckpointStore,
    private readonly archive: CheckpointArchive,
    private readonly producer: AuditLogProducer,
    private readonly keys: AuditSigningKeys,
    private readonly initializer: AuditStateInitializer,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
    readiness: ReadinessRegistry,
  ) {
    this.written = metrics.counter('rotor_audit_checkpoints_total', 'Signed audit checkpoints written (Kafka and GSM)');
    this.failures = metrics.counter('rotor_audit_checkpoint_failures_total', 'Audit checkpoints that could not be written');
    metrics.gauge('rotor_audit_checkpoint_age_seconds', 'Time since this process last wrote or saw a checkpoint', [], () =>
      Promise.resolve((Date.now() - this.lastWritten) / 1000),
    );
    readiness.register({ name: 'audit-checkpoint', check: () => this.check() });
  }

  onApplicationBootstrap(): void {
    const every = Math.min(1_000, Math.floor(this.config.checkpoints.intervalMs / 4));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Resolves once this installation has a checkpoint: appending waits for it (the transition checkpoint). */
  ensureStarted(): Promise<void> {
    this.started ??= this.firstCheckpoint().catch((error: unknown) => {
      this.started = undefined;
      throw error;
    });
    return this.started;
  }

  private async firstCheckpoint(): Promise<void> {
    const none = (state: CheckpointState) => state.initialized && !state.issuedAt;
    for (;;) {
      const state = await this.store.state();
      if (state.issuedAt) return;
      if (await this.checkpoint(none)) return;
      await new Promise((resolve) => setTimeout(resolve, 200)); // another replica is signing
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      let state = await this.store.state();
      if (!state.initialized && (await this.initialized())) state = await this.store.state();
      // Judged once without the lock (most ticks end here), and again under it.
      if (this.due(state)) await this.checkpoint((locked) => this.due(locked));
    } catch (error) {
      this.failures.inc();
      this.logger.warn({ err: error instanceof Error ? error.message : 'unknown error' }, 'could not write an audit checkpoint; retrying');
    } finally {
      this.ticking = false;
    }
  }

  /**
   * A new installation is marked initialized here, not only by its first append, so that it
   * signs its first checkpoint (and turns ready) without waiting for an event. A database that
   * lost its state stays uninitialized: the appender reports that, and the checkpoint waits.
   */
  private async initialized(): Promise<boolean> {
    try {
      await this.initializer.initialize();
      return true;
    } catch (error) {
      if (error instanceof NotReady) return false;
      throw error;
    }
  }

  private due(state: CheckpointState): boolean {
    // No marker: the database lost the heads, or a rebuild is restoring them; a checkpoint now would omit chains.
    if (!state.initialized) return false;
    if (!state.issuedAt) return true;
    this.lastWritten = Math.max(this.lastWritten, Date.parse(state.issuedAt)); // another replica's counts too
    const age = Date.now() - Date.parse(state.issuedAt);
    return age >= this.config.checkpoints.intervalMs || state.appended >= this.config.checkpoints.maxRecords;
  }

  /** Writes a checkpoint if `due` (judged under the lock); false when not due or another replica holds the lock. */
  private async checkpoint(due: (state: CheckpointState) => boolean): Promise<boolean> {
    const token = randomUUID();
    if (!(await this.store.tryLock(token, LOCK_MS))) return false;
    try {
      const state = await this.store.state();
      if (!due(state)) return false;
      const number = await this.store.nextNumber(async () => (await this.archive.latest())?.number ?? 0);
      const [heads, partitions] = await Promise.all([this.store.heads(), this.partitions()]);
      const topic = this.config.auditTopic;
      const checkpoint: AuditCheckpoint = signCheckpoint(
        {
          kind: 'checkpoint',
          number,
          issuedAt: new Date().toISOString(),
          intervalMs: this.config.checkpoints.intervalMs,
          partitions,
          heads: heads.map((head) => ({ ...head, partition: partitionOf(topic, head.chain, partitions) })),
        },
        this.keys.signer,
      );
      const value = JSON.stringify(checkpoint);
      // Kafka first: a verifier reads GSM before the topic, so the topic then holds GSM's latest.
      await this.producer.sendCheckpoint(
        Array.from({ length: partitions }, (_, partition) => ({
          topic,
          key: 'checkpoint',
          partition,
          value,
          headers: { 'ce-id': `checkpoint-${number}` },
        })),
      );
      await this.archive.keep(checkpoint);
      await this.store.written(checkpoint.issuedAt, state.appended);
      this.lastWritten = Date.parse(checkpoint.issuedAt);
      this.written.inc();
      this.logger.info({ number, chains: heads.length, keyId: checkpoint.keyId }, 'audit checkpoint signed');
      return true;
    } finally {
      await this.store.unlock(token);
    }
  }

  private async partitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.config.auditTopic] });
      return topics[0]!.partitions.length;
    } finally {
      await admin.disconnect();
    }
  }

  /** Not ready once no checkpoint has been written for two intervals: verifiers would fail the log. */
  private check(): Promise<void> {
    const seconds = Math.round((Date.now() - this.lastWritten) / 1000);
    if (Date.now() - this.lastWritten <= 2 * this.config.checkpoints.intervalMs) return Promise.resolve();
    return Promise.reject(new NotReady(`no audit checkpoint written for ${seconds}s`, 'unavailable'));
  }
}
