import { findRole, isBound, type Catalog } from '@rotor/catalog';

import type { TrackedLease } from '../leases/tracked-lease';

export type Withdrawal = 'role-removed' | 'backend-changed' | 'binding-removed';

/**
 * Why the catalog no longer allows a lease it once did, or undefined while it still does:
 * its role is gone, now mints with another backend, or no longer binds the lease's workload.
 */
export function withdrawalOf(catalog: Catalog, lease: Pick<TrackedLease, 'role' | 'backend' | 'workload'>): Withdrawal | undefined {
  const role = findRole(catalog, lease.role);
  if (!role) return 'role-removed';
  if (role.backend.kind !== lease.backend) return 'backend-changed';
  if (!isBound(role, lease.workload)) return 'binding-removed';
  return undefined;
}
