import { bindingMatches, type Catalog, type ManagedSecret } from '@rotor/catalog';
import type { EmergencySelector } from '@rotor/rest-contract';

import type { LeaseIndex } from '../leases/lease-clock';
import type { TrackedLease } from '../leases/tracked-lease';

/** A selector naming a managed secret covers secrets only; leases have no secret. */
export const selectsLeases = (selector: EmergencySelector): boolean => selector.secret === undefined;

/** The narrowest lease index the selector can read; the other fields filter what it yields. */
export function primaryLeaseIndex(selector: EmergencySelector): LeaseIndex {
  if (selector.namespace && selector.serviceAccount) return `sa:${selector.namespace}/${selector.serviceAccount}`;
  if (selector.namespace) return `ns:${selector.namespace}`;
  if (selector.role) return `role:${selector.role}`;
  if (selector.backend) return `backend:${selector.backend}`;
  return 'all';
}

/** True when the primary index alone decides (no other field to check). */
export function indexDecides(selector: EmergencySelector): boolean {
  const fields = Object.values(selector).filter((value) => value !== undefined).length;
  return fields === 1 || (fields === 2 && selector.namespace !== undefined && selector.serviceAccount !== undefined);
}

export function leaseMatches(lease: Pick<TrackedLease, 'role' | 'backend' | 'workload'>, selector: EmergencySelector): boolean {
  if (selector.all) return true;
  return (
    (selector.namespace === undefined || lease.workload.namespace === selector.namespace) &&
    (selector.serviceAccount === undefined || lease.workload.serviceAccount === selector.serviceAccount) &&
    (selector.role === undefined || lease.role === selector.role) &&
    (selector.backend === undefined || lease.backend === selector.backend)
  );
}

/**
 * Managed secrets a selector covers, by name: `all`; `secret`; and `namespace` (with
 * `serviceAccount`) when the secret is bound to that workload or delivered as a Kubernetes
 * Secret into that namespace. Roles and backends belong to leases: a selector naming one
 * matches no secret.
 */
export function matchSecrets(catalog: Catalog, selector: EmergencySelector): string[] {
  if (selector.role !== undefined || selector.backend !== undefined) return [];
  return catalog.managedSecrets
    .filter(
      (secret) =>
        selector.all ||
        ((selector.secret === undefined || secret.name === selector.secret) &&
          (selector.namespace === undefined || usedIn(secret, selector.namespace, selector.serviceAccount))),
    )
    .map((secret) => secret.name)
    .sort();
}

function usedIn(secret: ManagedSecret, namespace: string, serviceAccount: string | undefined): boolean {
  const bound = secret.bindings.some((binding) =>
    bindingMatches(serviceAccount ? binding : { ...binding, serviceAccount: '*' }, { namespace, serviceAccount: serviceAccount ?? '-' }),
  );
  return bound || secret.targets.some((target) => target.kind === 'kubernetes-secret' && target.namespace === namespace);
}
