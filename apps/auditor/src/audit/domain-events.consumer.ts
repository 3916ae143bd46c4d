import { Inject, Injectable } from '@nestjs/common';

import {
  AnyEnvelopeSchema,
  describeIssues,
  DOMAIN_TOPICS,
  InvalidEventError,
  isDomainTopic,
  parseEvent,
  type AnyEnvelope,
} from '@rotor/contracts';
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
    // Events come in runs of one partition, appended at a cost of a few round trips per run.
    // Several members of the group in one process: each appends a few partitions at once, as
    // an append mostly waits on Redis and Kafka. A partition still has exactly one member, so
    // each chain keeps a single writer.
    for (let member = 0; member < config.consumersPerProcess; member++) {
      kafka
        .consumer({
          groupId: config.consumerGroup,
          onExhausted: 'retry-forever',
          maxBatchSize: config.batchSize,
          ...(config.fetchWaitMs ? { fetchWaitMs: config.fetchWaitMs } : {}),
        })
        .subscribe({
          topics: DOMAIN_TOPICS,
          parse: parseAnyEvent,
          handleBatch: async (items) => {
            const outcomes = await appender.append(items);
            items.forEach(({ message, context }, index) =>
              context.logger.debug({ outcome: outcomes[index], eventType: message.type }, 'audited'),
            );
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
