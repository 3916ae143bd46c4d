import { Injectable } from '@nestjs/common';

import type { EventData, Topics } from '@rotor/contracts';

import { Notifier } from '../platform/notifier';

/** A managed-secret version was retired (`emergencyId`: an emergency rotation asked for it). */
export interface VersionRetired {
  secret: string;
  version: number;
  emergencyId?: string;
}

/**
 * What retirement did, for features that follow it. `versionCreated` and `deliveryCompleted`
 * are emitted once retirement has taken the event in (for every such event, tracked secret or
 * not), `retired` before the version is marked retired; a redelivered event or a crash emits
 * them again.
 */
@Injectable()
export class RetirementEvents extends Notifier<{
  retired: VersionRetired;
  versionCreated: EventData<typeof Topics.secretVersionCreated>;
  deliveryCompleted: EventData<typeof Topics.deliveryCompleted>;
}> {}
