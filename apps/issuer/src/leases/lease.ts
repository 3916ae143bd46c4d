import { operatorHeldWorkload, type BackendKind, type RevocationHandle, type Workload } from '@rotor/contracts';

export type LeaseState = 'active' | 'revoked';

/**
 * Who holds a lease: the workload it was issued to, or the operator who opened it through
 * break-glass. Only a workload holder can be matched by a workload caller.
 */
export type LeaseHolder = { kind: 'workload'; workload: Workload } | { kind: 'operator'; subject: string };

/** What the issuer keeps of a lease: everything but the credential itself. */
export interface Lease {
  id: string;
  role: string;
  owner: string;
  backend: BackendKind;
  holder: LeaseHolder;
  task?: string;
  issuedAt: Date;
  expiresAt: Date;
  maxExpiresAt: Date;
  state: LeaseState;
  revokedAt?: Date;
  revocationReason?: string;
  handle: RevocationHandle;
}

/** A lease is usable while it is active and its TTL has not run out, even before the revoker acts. */
export const isLive = (lease: Lease, now: Date): boolean => lease.state === 'active' && lease.expiresAt > now;

export const sameWorkload = (
  a: Pick<Workload, 'namespace' | 'serviceAccount'>,
  b: Pick<Workload, 'namespace' | 'serviceAccount'>,
): boolean => a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;

/** Whether this workload holds the lease: never true of a lease an operator holds. */
export const heldBy = (lease: Pick<Lease, 'holder'>, workload: Pick<Workload, 'namespace' | 'serviceAccount'>): boolean =>
  lease.holder.kind === 'workload' && sameWorkload(lease.holder.workload, workload);

/** The `workload` of the lease's events: the holder's, or one no workload can be for an operator's lease. */
export const eventWorkload = (holder: LeaseHolder): Workload =>
  holder.kind === 'workload' ? holder.workload : operatorHeldWorkload(holder.subject);

/** RFC 7662 `sub`: the service account, or the operator's subject (which is never a `system:` one). */
export const holderSubject = (holder: LeaseHolder): string =>
  holder.kind === 'workload' ? `system:serviceaccount:${holder.workload.namespace}:${holder.workload.serviceAccount}` : holder.subject;

/**
 * `now` plus the TTL, never beyond the lease's max expiry. No default here: the caller passes the
 * requested TTL or, when none was asked for, the role's `ttl` (on renewal of a lease whose role
 * left the catalog, the span from its issue to its current expiry).
 */
export const expiryFor = ({ now, ttlMs, maxExpiresAt }: { now: Date; ttlMs: number; maxExpiresAt: Date }): Date =>
  new Date(Math.min(now.getTime() + ttlMs, maxExpiresAt.getTime()));
