import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { onEvent } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { LeaseService } from './lease.service';

/** Keeps the issuer's lease state (and so introspection) in step with the revoker's verdicts. */
@Injectable()
export class LeaseRevokedConsumer {
  constructor(kafka: KafkaLifecycle, leases: LeaseService) {
    kafka.consumer({ groupId: 'rotor-issuer-lease-state' }).subscribe(
      onEvent(Topics.leaseRevoked, async (event, context) => {
        await leases.recordRevoked(event.data.leaseId, new Date(event.data.revokedAt), event.data.reason);
        context.logger.debug({ leaseId: event.data.leaseId }, 'lease marked revoked');
      }),
    );
  }
}
