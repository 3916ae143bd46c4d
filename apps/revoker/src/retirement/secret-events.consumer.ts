import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { onEvent } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { RetirementEvents } from './retirement-events';
import { RetirementUrgency } from './retirement-urgency';
import { RetirementService } from './retirement.service';
import { SecretReferences } from './secret-references';

/**
 * Follows managed-secret versions and their deliveries, in a consumer group of its own (the
 * TTL clock's group is not slowed by them). Version-created and delivery.completed come on
 * different topics and may be read in either order: confirmations are kept per target, so
 * an early one counts when the version's retirement opens. Each handler checks the event's
 * references first (a refused one is dead-lettered with no effect) and resolves only once
 * Redis holds its effect, and features that follow retirement (RetirementEvents) have counted it.
 */
@Injectable()
export class SecretEventsConsumer {
  constructor(
    kafka: KafkaLifecycle,
    retirement: RetirementService,
    urgency: RetirementUrgency,
    events: RetirementEvents,
    references: SecretReferences,
  ) {
    kafka
      .consumer({ groupId: 'rotor-revoker-versions' })
      .subscribe(
        onEvent(Topics.secretVersionCreated, async ({ data }, context) => {
          await references.checkVersionCreated(data);
          const outcome = await retirement.onVersionCreated(data, await urgency.isImmediate(data.emergencyId));
          await events.emit('versionCreated', data);
          context.logger.debug({ secret: data.secret, version: data.version, outcome }, 'version created');
        }),
      )
      .subscribe(
        onEvent(Topics.deliveryCompleted, async ({ data }) => {
          await references.checkDeliveryCompleted(data);
          await retirement.onDeliveryCompleted(data.secret, data.target.name, data.version);
          await events.emit('deliveryCompleted', data);
        }),
      )
      .subscribe(
        onEvent(Topics.revocationRequested, async ({ data }, context) => {
          if (data.subject.kind !== 'secret-version') return; // leases are the TTL clock's
          await references.requireKnownSecret(data.subject.secret);
          const reason = data.reason === 'emergency' ? 'emergency' : 'superseded';
          const outcome = await retirement.retireNow({
            secret: data.subject.secret,
            version: data.subject.version,
            reason,
            emergencyId: data.emergencyId,
          });
          context.logger.info({ secret: data.subject.secret, version: data.subject.version, outcome }, 'version retirement requested');
        }),
      );
  }
}
