import type { BackendKind, RevocationHandle, Workload } from '@rotor/contracts';

/**
 * The revoker's own record of a lease: what it needs to end it. `revoking` means due or
 * asked for; `irrevocable` means the attempt limit was reached and it is still retried.
 */
export type TrackedLeaseState = 'active' | 'revoking' | 'revoked' | 'irrevocable';

/**
 * catalog-withdrawn: the catalog dropped its role or binding (reconciliation/catalog-withdrawal.ts);
 * pod-gone: the pod its token named no longer exists (reconciliation/pod-sweep.ts).
 */
export type RevocationReason = 'expired' | 'requested' | 'emergency' | 'breakglass-ended' | 'catalog-withdrawn' | 'pod-gone';

export interface TrackedLease {
  id: string;
  role: string;
  owner: string;
  backend: BackendKind;
  workload: Workload;
  handle: RevocationHandle;
  expiresAt: Date;
  /** From lease.issued; absent in records tracked before the revoker kept it. */
  issuedAt?: Date;
  state: TrackedLeaseState;
  /** Set when revocation was asked for before expiry. */
  requestedReason?: RevocationReason;
  attempts: number;
  lastError?: string;
  revokedAt?: Date;
  /** The emergency rotation that asked for its revocation: its progress counts this lease. */
  emergencyId?: string;
  /**
   * The trace of its issuance (the W3C traceparent of the span that first tracked it): the
   * revocation, minutes later, continues that trace. Absent when tracing is off, and in records
   * tracked before the revoker kept it (their revocation starts a trace of its own).
   */
  traceparent?: string;
}

/** Why a claimed lease is to be revoked now, or undefined when it is not due (it was renewed). */
export const revocationReason = (lease: TrackedLease, now: Date): RevocationReason | undefined => {
  if (lease.requestedReason) return lease.requestedReason;
  return lease.expiresAt <= now ? 'expired' : undefined;
};
