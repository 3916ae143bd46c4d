import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { GENESIS, identifierKey, sealRecord } from '@rotor/audit-chain';
import type { AnyEnvelope, AuditRecord } from '@rotor/contracts';
import { ensureTopics, type MessageContext } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AppendHealth } from './append-health';
import { auditEntryOf } from './audit-entry';
import { AuditLogProducer } from './audit-log-producer';
import { AuditStore } from './audit-store';

export type AppendOutcome = 'appended' | 'duplicate-event' | 'already-appended';

/**
 * Appends one hash-chained record per event to the audit topic. There is one chain per
 * source topic-partition: a partition has one consumer at a time, so each chain has one
 * writer, in order, whatever the number of auditor replicas; the seq is reserved in Redis
 * before the record is produced, so a replica that lost its partition cannot fork a chain.
 *
 * Crash safety: the record is built only from the message (its time is the source message's
 * timestamp) and the chain head, so an append retried after a crash between produce and the
 * Redis update produces a byte-identical record, which verifiers, replay and rebuild skip.
 * A message at or below the chain head's source offset was appended already and is skipped.
 * After the record is durable in Kafka, the same projection the rebuild uses updates the views.
 */
@Injectable()
export class AuditAppender implements OnModuleInit {
  private readonly appended;
  private readonly lag;
  private readonly identifierKey: Buffer;

  constructor(
    private readonly store: AuditStore,
    private readonly producer: AuditLogProducer,
    private readonly health: AppendHealth,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    metrics: Metrics,
  ) {
    this.identifierKey = identifierKey(config.auditKey);
    this.appended = metrics.counter('rotor_audit_records_total', 'Audit records appended, by outcome', ['outcome']);
    this.lag = metrics.histogram('rotor_audit_lag_seconds', 'Time from an event to its audit record', [], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]);
  }

  /** The default audit topic is created with every rotor topic; another one (an isolated installation) here. */
  async onModuleInit(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [this.config.auditTopic], this.config.kafka);
    } finally {
      await admin.disconnect();
    }
  }

  async append(envelope: AnyEnvelope, context: MessageContext): Promise<AppendOutcome> {
    try {
      const outcome = await this.appendOnce(envelope, context);
      this.health.succeeded();
      this.appended.inc({ outcome });
      return outcome;
    } catch (error) {
      this.health.failed(error);
      throw error;
    }
  }

  private async appendOnce(envelope: AnyEnvelope, context: MessageContext): Promise<AppendOutcome> {
    const chain = `${context.topic}:${context.partition}`;
    const state = await this.store.appendState(chain, envelope.id);
    if (!state.initialized) await this.initializeEmptyState();
    if (state.seen) return 'duplicate-event';
    const head = state.head;
    if (head && BigInt(context.offset) <= head.sourceOffset) return 'already-appended';

    const entry = auditEntryOf(envelope, this.identifierKey);
    const record: AuditRecord = sealRecord(this.config.auditKey, {
      seq: head ? head.seq + 1 : 0,
      chain,
      sourceTopic: context.topic,
      sourcePartition: context.partition,
      sourceOffset: context.offset,
      eventId: entry.eventId,
      eventType: entry.eventType,
      known: entry.known,
      recordedAt: new Date(Number(context.timestamp)).toISOString(),
      event: entry.event,
      prev: head?.hash ?? GENESIS,
    });
    const reservation = await this.store.reserve(record);
    if (reservation === 'moved') throw new Error(`chain ${chain} moved while appending offset ${context.offset}; retrying from its new head`);
    if (reservation !== 'ok') {
      throw new Error(`chain ${chain} has an unconfirmed record for source offset ${reservation.slice('pending:'.length)}, not for ${context.offset}`);
    }
    await this.producer.send(chain, { topic: this.config.auditTopic, key: chain, value: JSON.stringify(record), headers: { 'ce-id': record.eventId } }, context.traceparent);
    await this.store.recordAppended(record);
    this.lag.observe(Math.max(0, Date.now() - entry.occurredAt.getTime()) / 1000);
    return 'appended';
  }

  /**
   * Redis holds no auditor state marker. State from before the marker, or a first start (empty
   * audit topic), is fine; if the topic has records, Redis lost the chain heads, and appending
   * would restart every chain at seq 0: refuse (fail closed) until an operator rebuilds the
   * state from the topic.
   */
  private async initializeEmptyState(): Promise<void> {
    if (await this.store.hasAnyChainHead()) return this.store.markInitialized(); // written before the marker existed
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.config.auditTopic);
      const records = offsets.reduce((sum, { high, low }) => sum + (BigInt(high) - BigInt(low)), 0n);
      if (records > 0n) {
        throw new Error(
          `the auditor's Redis state is missing but ${this.config.auditTopic} holds ${records} records: run \`rotor audit replay --rebuild\` to restore it`,
        );
      }
      await this.store.markInitialized();
    } finally {
      await admin.disconnect();
    }
  }
}
