import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { onEvent } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { BreakGlassFollowUp } from './break-glass-follow-up';

/** Follows break-glass accesses: opened, ended early, and the versions their follow-up mints. */
@Injectable()
export class BreakGlassConsumer {
  constructor(kafka: KafkaLifecycle, followUp: BreakGlassFollowUp) {
    kafka
      .consumer({ groupId: 'rotor-revoker-breakglass' })
      .subscribe(onEvent(Topics.breakglassUsed, ({ data }) => followUp.opened(data)))
      .subscribe(
        onEvent(Topics.revocationRequested, async ({ data }) => {
          if (data.subject.kind === 'lease' && data.reason === 'breakglass-ended') await followUp.endedEarly(data.subject.leaseId);
        }),
      )
      .subscribe(
        onEvent(Topics.secretVersionCreated, async ({ data }) => {
          if (data.reason === 'breakglass') await followUp.versionCreated(data.secret, data.version, new Date(data.createdAt));
        }),
      );
  }
}
