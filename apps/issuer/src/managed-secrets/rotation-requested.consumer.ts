import { Injectable } from '@nestjs/common';

import { Topics } from '@rotor/contracts';
import { onEvent, PermanentError } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';
import { DomainError } from '@rotor/errors';

import { RotationService } from './rotation.service';
import { SecretVersionStore } from './secret-version.store';

/** Mints a version when asked (emergency rotation, break-glass follow-up). Deduplicated by event id. */
@Injectable()
export class RotationRequestedConsumer {
  constructor(kafka: KafkaLifecycle, rotation: RotationService, versions: SecretVersionStore) {
    kafka.consumer({ groupId: 'rotor-issuer-rotation' }).subscribe(
      onEvent(Topics.rotationRequested, async (event) => {
        if (await versions.wasHandled(event.id)) return;
        try {
          await rotation.rotate(event.data.secret, event.data.reason, { emergencyId: event.data.emergencyId });
        } catch (error) {
          if (error instanceof DomainError && error.code === 'unknown-managed-secret') throw new PermanentError(error.message);
          throw error;
        }
        await versions.markHandled(event.id);
      }),
    );
  }
}
