import { Injectable } from '@nestjs/common';

import { Notifier } from '../platform/notifier';

/** A lease revocation ended, for whoever asked for it (`emergencyId`: an emergency rotation). */
export interface LeaseOutcome {
  leaseId: string;
  emergencyId?: string;
}

/**
 * What revocation did, for features that follow it. `revoked` is emitted before the lease
 * is marked revoked, `irrevocable` when it passes the attempt limit; a crash after either
 * emits it again.
 */
@Injectable()
export class RevocationEvents extends Notifier<{ revoked: LeaseOutcome; irrevocable: LeaseOutcome }> {}
