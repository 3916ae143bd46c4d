import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { GENESIS, identifierKey, sealRecord, type ChainHead } from '@rotor/audit-chain';
import type { AnyEnvelope, AuditRecord } from '@rotor/contracts';
import { assertTopicRetention, DEFAULT_RETENTION_MS, ensureTopics, type BatchItem, type OutgoingMessage } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';
import { NotReady } from '@rotor/service-kit';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AppendHealth } from './append-health';
import { auditEntryOf } from './audit-entry';
import { AuditLogProducer } from './audit-log-producer';
import { AuditStateInitializer } from './audit-state-initializer';
import { AuditStore } from './audit.store';
import { ChainRepair } from './chain-repair';
import { CheckpointService } from './checkpoint.service';

export type AppendOutcome = 'appended' | 'duplicate-event' | 'already-appended';

/** Most bytes of audit records in one produce request, well under the broker's 1 MiB message.max.bytes. */
const MAX_PRODUCE_BYTES = 512 * 1024;

/**
 * Appends one hash-chained record per event to the audit topic (SHA-256 links, vouched for by
 * the signed checkpoints of {@link CheckpointService}). There is one chain per
 * source topic-partition: a partition has one consumer at a time, so each chain has one
 * writer, in order, whatever the number of auditor replicas; the seqs are reserved in the database
 * before the records are produced, so a replica that lost its partition cannot fork a chain.
 *
 * Events come in runs of one partition (one chain): a run costs one database read, one
 * reservation, one produce and one database transaction, whatever its length.
 *
 * Crash safety: a record is built only from its message (its time is the source message's
 * timestamp) and the chain head, so a run appended again after a crash between produce and
 * the database update produces byte-identical records, which verifiers, replay and rebuild skip.
 * A message at or below the chain head's source offset was appended already and is skipped.
 * After the records are durable in Kafka, the same projection the rebuild uses updates the views.
 */
@Injectable()
export class AuditAppender implements OnModuleInit {
  private readonly appended;
  private readonly lag;
  private readonly identifierKey: Buffer;
  /** Chains whose source log was seen to reach past their head (see checkSourceLog). */
  private readonly sourceLogsChecked = new Set<string>();
  /** The last seq this process appended to each chain: a stored head behind it lost writes in a failover. */
  private readonly appendedSeqs = new Map<string, number>();

  constructor(
    private readonly store: AuditStore,
    private readonly producer: AuditLogProducer,
    private readonly health: AppendHealth,
    private readonly checkpoints: CheckpointService,
    private readonly repair: ChainRepair,
    private readonly initializer: AuditStateInitializer,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    metrics: Metrics,
  ) {
    this.identifierKey = identifierKey(config.auditKey);
    this.appended = metrics.counter('rotor_audit_records_total', 'Audit records appended, by outcome', ['outcome']);
    this.lag = metrics.latencyHistogram(
      'rotor_audit_lag_seconds',
      'Time from an event to its audit record',
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    );
  }

  /** The default audit topic is created with every rotor topic; another one (an isolated installation) here. Either must never delete. */
  async onModuleInit(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [this.config.auditTopic], this.config.kafka);
      // Refuses to start, naming the setting, when the broker would delete audit records.
      await assertTopicRetention(admin, [this.config.auditTopic], { retentionMs: DEFAULT_RETENTION_MS });
    } finally {
      await admin.disconnect();
    }
  }

  /** Appends consecutive events of one source partition, in offset order; returns each one's outcome. */
  async append(items: readonly BatchItem<AnyEnvelope>[]): Promise<AppendOutcome[]> {
    try {
      const outcomes = await this.appendRun(items);
      this.health.succeeded();
      for (const outcome of outcomes) this.appended.inc({ outcome });
      return outcomes;
    } catch (error) {
      this.health.failed(error);
      throw error;
    }
  }

  private async appendRun(items: readonly BatchItem<AnyEnvelope>[], repaired = false): Promise<AppendOutcome[]> {
    if (items.length === 0) return [];
    const { topic, partition } = items[0]!.context;
    if (items.some(({ context }) => context.topic !== topic || context.partition !== partition)) {
      throw new Error('a run of audited events must come from one topic-partition');
    }
    const chain = `${topic}:${partition}`;
    const state = await this.store.appendState(
      chain,
      items.map(({ message }) => message.id),
    );
    if (!state.initialized) await this.initializer.initialize();
    if (state.initialized && !repaired && (this.appendedSeqs.get(chain) ?? -1) > (state.head?.seq ?? -1)) {
      // The database went back past what this process appended: it lost writes (a failover). The topic has them.
      // (A database that lost everything, the marker too, is for `rotor audit replay --rebuild`: refused above.)
      await this.repair.catchUp(chain, state.head);
      return this.appendRun(items, true);
    }
    if (state.head && BigInt(items[0]!.context.offset) <= state.head.sourceOffset) {
      await this.checkSourceLog(topic, partition, state.head.sourceOffset);
    }
    // Chains the previous auditor linked with HMACs move to SHA-256 only after a signed checkpoint over their heads.
    await this.checkpoints.ensureStarted();

    const outcomes: AppendOutcome[] = [];
    const records: AuditRecord[] = [];
    const messages: OutgoingMessage[] = [];
    const occurredAt: Date[] = [];
    const seen = new Set(state.seen);
    let head: ChainHead | undefined = state.head;
    for (const { message: envelope, context } of items) {
      if (state.head && BigInt(context.offset) <= state.head.sourceOffset) {
        outcomes.push('already-appended');
        continue;
      }
      if (seen.has(envelope.id)) {
        outcomes.push('duplicate-event');
        continue;
      }
      seen.add(envelope.id);
      const entry = auditEntryOf(envelope, this.identifierKey);
      const record: AuditRecord = sealRecord({
        seq: head ? head.seq + 1 : 0,
        chain,
        sourceTopic: topic,
        sourcePartition: partition,
        sourceOffset: context.offset,
        eventId: entry.eventId,
        eventType: entry.eventType,
        known: entry.known,
        recordedAt: new Date(Number(context.timestamp)).toISOString(),
        event: entry.event,
        prev: head?.hash ?? GENESIS,
      });
      records.push(record);
      messages.push({
        topic: this.config.auditTopic,
        key: chain,
        value: JSON.stringify(record),
        headers: { 'ce-id': record.eventId },
        traceContext: context.traceContext, // the record continues the audited event's trace
      });
      occurredAt.push(entry.occurredAt);
      head = record;
      outcomes.push('appended');
    }
    if (records.length === 0) return outcomes;

    const reservation = await this.store.reserve(records);
    if (reservation === 'moved')
      throw new Error(`chain ${chain} moved while appending from offset ${records[0]!.sourceOffset}; retrying from its new head`);
    if (reservation !== 'ok') {
      const pendingUpTo = BigInt(reservation.slice('pending:'.length));
      // The unconfirmed run ends before this one starts: its source offsets were committed, so it was
      // produced and recorded, and the database lost the record of it (a failover). Restore it from the topic.
      if (!repaired && BigInt(records[0]!.sourceOffset) > pendingUpTo && (await this.repair.catchUp(chain, state.head)) > 0) {
        return this.appendRun(items, true);
      }
      throw new Error(
        `chain ${chain} has an unconfirmed run up to source offset ${pendingUpTo} that does not start with offset ${records[0]!.sourceOffset}`,
      );
    }
    for (const slice of byteSlices(messages)) await this.producer.send(chain, slice);
    await this.store.recordAppended(records);
    this.appendedSeqs.set(chain, records[records.length - 1]!.seq);
    const now = Date.now();
    for (const time of occurredAt) this.lag.observe({}, Math.max(0, now - time.getTime()) / 1000);
    return outcomes;
  }

  /**
   * A message at or below its chain head's source offset is skipped as appended already: true of a
   * redelivery, but not of another log whose offsets start again at 0 (the Kafka cluster replaced,
   * the topic deleted and created again), whose events would all be skipped without a trace. A
   * log that ends at or before the head's offset cannot be the one the chain was built from:
   * refuse (fail closed) and say why. Once per chain and process: a log only grows.
   */
  private async checkSourceLog(topic: string, partition: number, headOffset: bigint): Promise<void> {
    const chain = `${topic}:${partition}`;
    if (this.sourceLogsChecked.has(chain)) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const end = BigInt(offsets.find((offset) => offset.partition === partition)?.high ?? '0');
      if (end <= headOffset) {
        throw new NotReady(
          `chain ${chain} was built up to source offset ${headOffset}, but that partition ends at offset ${end}: this is not the log the ` +
            'audit chain vouches for (a Kafka cluster replaced, or the topic recreated), and its events would be skipped. Restore the ' +
            "log, or audit the new one as a new installation (the auditor's own database state and audit topic)",
        );
      }
    } finally {
      await admin.disconnect();
    }
    this.sourceLogsChecked.add(chain);
  }
}

/** Splits messages into runs that each fit one produce request. */
function* byteSlices(messages: OutgoingMessage[]): Generator<OutgoingMessage[]> {
  let slice: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.value);
    if (slice.length && bytes + size > MAX_PRODUCE_BYTES) {
      yield slice;
      slice = [];
      bytes = 0;
    }
    slice.push(message);
    bytes += size;
  }
  if (slice.length) yield slice;
}
