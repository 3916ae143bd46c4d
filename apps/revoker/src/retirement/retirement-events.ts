import { Injectable } from '@nestjs/common';

import { Notifier } from '../platform/notifier';

/** A managed-secret version was retired (`emergencyId`: an emergency rotation asked for it). */
export interface VersionRetired {
  secret: string;
  version: number;
  emergencyId?: string;
}

/** What retirement did, for features that follow it; emitted before the version is marked retired, again after a crash. */
@Injectable()
export class RetirementEvents extends Notifier<{ retired: VersionRetired }> {}
