import { Inject, Injectable } from '@nestjs/common';

import { GENESIS, sealRecord } from '@rotor/audit-chain';
import { Topics, type AnyEnvelope, type AuditRecord } from '@rotor/contracts';
import { EventPublisher, type MessageContext } from '@rotor/kafka';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { auditEntryOf } from './audit-entry';
import { AuditStore } from './audit-store';

export type AppendOutcome = 'appended' | 'duplicate-event' | 'already-appended';

/**
 * Appends one hash-chained record per event to rotor.audit.log.v1. There is one chain per
 * source topic-partition: a partition has one consumer at a time, so each chain has one
 * writer, in order, whatever the number of auditor replicas.
 *
 * Crash safety: the record is built only from the message (its time is the source message's
 * timestamp), so an append retried after a crash between produce and the Redis update
 * produces a byte-identical record, which verifiers skip. A message at or below the
 * chain head's source offset was appended already and is skipped.
 */
@Injectable()
export class AuditAppender {
  private readonly appended;
  private readonly lag;

  constructor(
    private readonly store: AuditStore,
    private readonly publisher: EventPublisher,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    metrics: Metrics,
  ) {
    this.appended = metrics.counter('rotor_audit_records_total', 'Audit records appended, by outcome', ['outcome']);
    this.lag = metrics.histogram('rotor_audit_lag_seconds', 'Time from an event to its audit record', [], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]);
  }

  async append(envelope: AnyEnvelope, context: MessageContext): Promise<AppendOutcome> {
    const chain = `${context.topic}:${context.partition}`;
    if (await this.store.seen(envelope.id)) return this.count('duplicate-event');
    const head = await this.store.head(chain);
    if (head && BigInt(context.offset) <= head.sourceOffset) return this.count('already-appended');

    const entry = auditEntryOf(envelope);
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
    await this.publisher.send([{ topic: Topics.auditLog, key: chain, value: JSON.stringify(record), headers: { 'ce-id': record.eventId } }], context.traceparent);
    await this.store.recordAppended(record, entry);
    this.lag.observe(Math.max(0, Date.now() - entry.occurredAt.getTime()) / 1000);
    return this.count('appended');
  }

  private count(outcome: AppendOutcome): AppendOutcome {
    this.appended.inc({ outcome });
    return outcome;
  }
}
