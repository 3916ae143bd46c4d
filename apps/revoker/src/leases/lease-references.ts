import type { EventData, ReferenceRejection, RevocationHandle, Topics } from '@rotor/contracts';
import type { BackendRegistry } from '@rotor/credential-backends';

import type { TrackedLease } from './tracked-lease';

const sameHandle = (a: RevocationHandle, b: RevocationHandle): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Why a `lease.issued` event must not be tracked, or undefined when its references hold: its
 * revocation handle must be the one its backend mints for this lease id, so revoking it can
 * only ever end this lease's own account. Its role is not checked against the catalog: the
 * revoker's only effect is to end the credential, and dead-lettering a lease of a role its
 * catalog does not (yet, or any more) know would leave a live credential with no clock.
 */
export function leaseIssuedRejection(
  data: EventData<typeof Topics.leaseIssued>,
  backends: Pick<BackendRegistry, 'leaseHandle'>,
): ReferenceRejection | undefined {
  // The handle a backend mints for a lease: a forged event cannot point the revoker at another lease's (or an admin's) account.
  if (!sameHandle(data.revocationHandle, backends.leaseHandle(data.backend, data.leaseId))) return 'handle-mismatch';
  return undefined;
}

/** A renewal must describe the lease the revoker tracks under that id: same role, backend and workload. */
export function leaseRenewedRejection(
  tracked: Pick<TrackedLease, 'role' | 'backend' | 'workload'>,
  data: EventData<typeof Topics.leaseRenewed>,
): ReferenceRejection | undefined {
  const sameWorkload =
    tracked.workload.namespace === data.workload.namespace && tracked.workload.serviceAccount === data.workload.serviceAccount;
  if (tracked.role !== data.role || tracked.backend !== data.backend || !sameWorkload) return 'lease-mismatch';
  return undefined;
}
