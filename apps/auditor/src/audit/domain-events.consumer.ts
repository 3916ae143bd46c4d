import { Inject, Injectable } from '@nestjs/common';

import { AnyEnvelopeSchema, describeIssues, DOMAIN_TOPICS, InvalidEventError, isDomainTopic, parseEvent, type AnyEnvelope } from '@rotor/contracts';
import { MalformedMessageError } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AuditAppender } from './audit-appender.service';

/**
 * Audits every domain topic. Fails closed: when it cannot append (Kafka or Redis down), it
 * retries forever without committing, so nothing is lost and it catches up afterwards.
 * A malformed event goes to the dead-letter topic; an unknown event type is recorded.
 */
@Injectable()
export class DomainEventsConsumer {
  constructor(kafka: KafkaLifecycle, appender: AuditAppender, @Inject(AUDITOR_CONFIG) config: AuditorConfig) {
    // Several members of the group in one process: each handles a few partitions at once, and
    // an append mostly waits on Redis and Kafka round trips, so more lanes mean more throughput.
    // A partition still has exactly one member, so each chain keeps a single writer.
    for (let member = 0; member < config.consumersPerProcess; member++) {
      kafka.consumer({ groupId: config.consumerGroup, onExhausted: 'retry-forever' }).subscribe({
        topics: DOMAIN_TOPICS,
        parse: parseAnyEvent,
        handle: async (envelope, context) => {
          const outcome = await appender.append(envelope, context);
          context.logger.debug({ outcome, eventType: envelope.type }, 'audited');
        },
      });
    }
  }
}

/** Any CloudEvents envelope; a known type must also match its contract, or it is dead-lettered. */
function parseAnyEvent(json: unknown): AnyEnvelope {
  const envelope = AnyEnvelopeSchema.safeParse(json);
  if (!envelope.success) throw new MalformedMessageError(`not a CloudEvents envelope: ${describeIssues(envelope.error).join('; ')}`);
  if (isDomainTopic(envelope.data.type)) {
    try {
      parseEvent(envelope.data.type, envelope.data);
    } catch (error) {
      if (error instanceof InvalidEventError) throw new MalformedMessageError(error.message);
      throw error;
    }
  }
  return envelope.data;
}
