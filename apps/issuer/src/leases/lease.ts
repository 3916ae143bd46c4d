import type { BackendKind, RevocationHandle, Workload } from '@rotor/contracts';

export type LeaseState = 'active' | 'revoked';

/** What the issuer keeps of a lease: everything but the credential itself. */
export interface Lease {
  id: string;
  role: string;
  owner: string;
  backend: BackendKind;
  workload: Workload;
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

/** The expiry for a requested TTL: the role's ttl by default, never beyond the lease's max. */
export const expiryFor = ({ now, ttlMs, maxExpiresAt }: { now: Date; ttlMs: number; maxExpiresAt: Date }): Date =>
  new Date(Math.min(now.getTime() + ttlMs, maxExpiresAt.getTime()));
