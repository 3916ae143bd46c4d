import type { Lease } from './lease';

/** The public shape of a lease; never includes the credential. */
export const leaseView = (lease: Lease, now = new Date()) => ({
  leaseId: lease.id,
  role: lease.role,
  owner: lease.owner,
  backend: lease.backend,
  // Only a workload's lease is ever shown here (an operator's is not reachable by any workload).
  ...(lease.holder.kind === 'workload' ? { workload: lease.holder.workload } : { holder: lease.holder }),
  ...(lease.task ? { task: lease.task } : {}),
  state: lease.state === 'active' && lease.expiresAt <= now ? 'expired' : lease.state,
  issuedAt: lease.issuedAt.toISOString(),
  expiresAt: lease.expiresAt.toISOString(),
  maxExpiresAt: lease.maxExpiresAt.toISOString(),
  ...(lease.revokedAt ? { revokedAt: lease.revokedAt.toISOString(), revocationReason: lease.revocationReason } : {}),
});
