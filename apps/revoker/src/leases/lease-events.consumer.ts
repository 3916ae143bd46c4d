import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { BackendRegistry } from '@rotor/credential-backends';
import { onEvent, ReferenceRejectedError } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { LeaseClock } from './lease-clock';
import { leaseIssuedRejection, leaseRenewedRejection } from './lease-references';

/**
 * Builds the TTL clock from lease events. Each handler resolves once Redis has the
 * schedule, so the offset is committed only after the expiry is durable. An event whose
 * references do not hold (a revocation handle that is not the lease's own, a renewal
 * describing another lease) is dead-lettered and tracks nothing.
 */
@Injectable()
export class LeaseEventsConsumer {
  constructor(kafka: KafkaLifecycle, clock: LeaseClock, backends: BackendRegistry) {
    kafka
      // Its handlers are a few Redis calls, so a short session costs nothing; a replica that
      // died without leaving the group hands its partitions over in 10 s instead of kafkajs' 30.
      .consumer({ groupId: 'rotor-revoker-clock', sessionTimeoutMs: 10_000 })
      .subscribe(
        onEvent(Topics.leaseIssued, async ({ data }) => {
          const rejection = leaseIssuedRejection(data, backends);
          if (rejection) throw new ReferenceRejectedError(rejection, "lease.issued names a revocation handle that is not its own lease's");
          await clock.track({
            id: data.leaseId,
            role: data.role,
            owner: data.owner,
            backend: data.backend,
            workload: data.workload,
            handle: data.revocationHandle,
            expiresAt: new Date(data.expiresAt),
            issuedAt: new Date(data.issuedAt),
          });
        }),
      )
      .subscribe(
        onEvent(Topics.leaseRenewed, async ({ data }, context) => {
          const lease = await clock.get(data.leaseId);
          if (!lease) {
            // Topics are consumed concurrently: the issued event may simply not be here yet.
            await clock.rememberEarlyRenewal(data.leaseId, new Date(data.expiresAt));
            context.logger.info({ leaseId: data.leaseId }, 'renewal before its issue event; kept until it arrives');
            return;
          }
          const rejection = leaseRenewedRejection(lease, data);
          if (rejection)
            throw new ReferenceRejectedError(rejection, 'lease.renewed describes another lease than the one tracked under its id');
          await clock.track({ ...lease, expiresAt: new Date(data.expiresAt) });
        }),
      )
      .subscribe(
        onEvent(Topics.revocationRequested, async ({ data }, context) => {
          if (data.subject.kind !== 'lease') return; // secret versions are retired by SecretEventsConsumer, in its own group
          // An emergency run's own requests carry its id: its progress counts the lease however the request arrives.
          const known = await clock.requestNow(data.subject.leaseId, data.reason, data.emergencyId);
          if (!known)
            context.logger.info({ leaseId: data.subject.leaseId }, 'revocation requested before its issue event; kept until it arrives');
        }),
      );
  }
}
