import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { onEvent } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { SecretReferences } from '../retirement/secret-references';

import { BreakGlassFollowUp } from './break-glass-follow-up';

/**
 * Follows break-glass accesses: opened, ended early, and the versions their follow-up mints.
 * Every managed secret an event names must be one the catalog or the revoker's records know:
 * otherwise it is dead-lettered before a follow-up is recorded or advanced.
 */
@Injectable()
export class BreakGlassConsumer {
  constructor(kafka: KafkaLifecycle, followUp: BreakGlassFollowUp, references: SecretReferences) {
    kafka
      .consumer({ groupId: 'rotor-revoker-breakglass' })
      .subscribe(
        onEvent(Topics.breakglassUsed, async ({ data }) => {
          for (const secret of data.secrets) await references.requireKnownSecret(secret);
          await followUp.opened(data);
        }),
      )
      .subscribe(
        onEvent(Topics.revocationRequested, async ({ data }) => {
          if (data.subject.kind === 'lease' && data.reason === 'breakglass-ended') await followUp.endedEarly(data.subject.leaseId);
        }),
      )
      .subscribe(
        onEvent(Topics.secretVersionCreated, async ({ data }) => {
          if (data.reason !== 'breakglass') return;
          await references.checkVersionCreated(data);
          await followUp.versionCreated(data.secret, data.version, new Date(data.createdAt));
        }),
      );
  }
}
