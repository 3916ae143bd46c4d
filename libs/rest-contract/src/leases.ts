import { z } from 'zod';

import { BackendKindSchema, parseDuration, WorkloadSchema, type BackendKind, type Workload } from '@rotor/contracts';

import { named } from './registry';

const Timestamp = z.iso.datetime({ offset: true });

/** A TTL as seconds (number) or a duration string (`15m`); parsed into milliseconds. */
const Ttl = z
  .union([
    z
      .number()
      .int()
      .positive()
      .max(31 * 86_400),
    z.string().max(32),
  ])
  .transform((value, context) => {
    const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: 'must be seconds or a duration such as 90s, 15m, 1h' });
      return z.NEVER;
    }
    return ms;
  });

/** `POST /v1/credentials`: the role to lease, and optionally a shorter TTL and the task it is for. */
export const IssueCredentialRequestSchema = named(
  'IssueCredentialRequest',
  z.strictObject({
    role: z.string().min(1).max(63),
    ttl: Ttl.optional(),
    task: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w.:/-]+$/, 'may contain letters, digits and . _ : / -')
      .optional(),
  }),
  'A credential asked for',
);
export type IssueCredentialRequest = z.infer<typeof IssueCredentialRequestSchema>;

/** `POST /v1/leases/{id}/renew`: optionally the TTL wanted (the role's by default, never past the lease's maximum). */
export const RenewLeaseRequestSchema = named('RenewLeaseRequest', z.strictObject({ ttl: Ttl.optional() }), 'A renewal asked for');
export type RenewLeaseRequest = z.infer<typeof RenewLeaseRequestSchema>;

export const LeaseIdSchema = z.uuid();

/**
 * `Idempotency-Key`: a retried request with the same key gets the first answer instead of a
 * second effect (a second lease, a second rotation).
 */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** issuer: active, expired (active past its expiry), revoked; revoker: revoking, irrevocable. */
export const LeaseViewStateSchema = z.enum(['active', 'expired', 'revoked', 'revoking', 'irrevocable']);
export type LeaseViewState = z.infer<typeof LeaseViewStateSchema>;

/** The public shape of a lease: never its credential, never its revocation handle. */
export const LeaseViewSchema = named(
  'LeaseView',
  z.object({
    leaseId: z.string(),
    role: z.string(),
    owner: z.string(),
    backend: BackendKindSchema,
    /** The workload holding it; absent when an operator holds it (break-glass), then `holder` says who. */
    workload: WorkloadSchema.optional(),
    holder: z.object({ kind: z.literal('operator'), subject: z.string() }).optional(),
    task: z.string().optional(),
    state: LeaseViewStateSchema,
    issuedAt: Timestamp,
    expiresAt: Timestamp,
    maxExpiresAt: Timestamp,
    revokedAt: Timestamp.optional(),
    revocationReason: z.string().optional(),
  }),
  'A lease as its holder sees it',
);
export type LeaseView = z.infer<typeof LeaseViewSchema>;

/** `POST /v1/credentials`: the lease and, this once, its credential (rotor keeps no copy). */
export const IssuedCredentialSchema = named(
  'IssuedCredential',
  LeaseViewSchema.extend({ credential: z.record(z.string(), z.string()) }),
  'A new lease and its credential, shown once',
);
export type IssuedCredential = z.infer<typeof IssuedCredentialSchema>;

/** `DELETE /v1/leases/{id}`: done when the lease was already revoked, else requested from the revoker. */
export const LeaseRevocationSchema = named(
  'LeaseRevocation',
  LeaseViewSchema.extend({ revocation: z.enum(['done', 'requested']) }),
  'A lease whose revocation was asked for',
);
export type LeaseRevocation = z.infer<typeof LeaseRevocationSchema>;

/** A lease the revoker could not end within its attempt limit; it keeps retrying. */
export const IrrevocableLeaseSchema = named(
  'IrrevocableLease',
  LeaseViewSchema.pick({ leaseId: true, role: true, owner: true, backend: true, state: true, expiresAt: true }).extend({
    workload: WorkloadSchema,
    attempts: z.number().int(),
    lastError: z.string().optional(),
  }),
);
export type IrrevocableLease = z.infer<typeof IrrevocableLeaseSchema>;

export const IrrevocableLeasePageSchema = named('IrrevocableLeasePage', z.object({ items: z.array(IrrevocableLeaseSchema) }));
export type IrrevocableLeasePage = z.infer<typeof IrrevocableLeasePageSchema>;

/** What a service keeps of a lease, as far as its REST view needs it (the issuer's Lease; the revoker's TrackedLease, held by its workload). */
export interface StoredLease {
  id: string;
  role: string;
  owner: string;
  backend: BackendKind;
  holder: { kind: 'workload'; workload: Workload } | { kind: 'operator'; subject: string };
  task?: string;
  state: LeaseViewState;
  expiresAt: Date;
}

/**
 * The lease-to-JSON mapping both views share. Only a workload's lease carries `workload` (an
 * operator's says `holder` instead: no workload can reach it); an active lease past its expiry
 * reads `expired` before the revoker has acted.
 */
const leaseFields = (lease: StoredLease, now: Date) => ({
  leaseId: lease.id,
  role: lease.role,
  owner: lease.owner,
  backend: lease.backend,
  ...(lease.holder.kind === 'workload' ? { workload: lease.holder.workload } : { holder: lease.holder }),
  ...(lease.task ? { task: lease.task } : {}),
  state: lease.state === 'active' && lease.expiresAt <= now ? ('expired' as const) : lease.state,
});

/** The issuer's lease as its holder sees it. */
export const leaseView = (
  lease: StoredLease & { issuedAt: Date; maxExpiresAt: Date; revokedAt?: Date; revocationReason?: string },
  now = new Date(),
): LeaseView => ({
  ...leaseFields(lease, now),
  issuedAt: lease.issuedAt.toISOString(),
  expiresAt: lease.expiresAt.toISOString(),
  maxExpiresAt: lease.maxExpiresAt.toISOString(),
  ...(lease.revokedAt ? { revokedAt: lease.revokedAt.toISOString(), revocationReason: lease.revocationReason } : {}),
});

/** The revoker's lease it could not end, with its attempts so far. */
export const irrevocableLeaseView = (
  lease: Omit<StoredLease, 'holder' | 'task'> & { workload: Workload; attempts: number; lastError?: string },
  now = new Date(),
): IrrevocableLease => ({
  ...leaseFields({ ...lease, holder: { kind: 'workload', workload: lease.workload } }, now),
  workload: lease.workload,
  expiresAt: lease.expiresAt.toISOString(),
  attempts: lease.attempts,
  lastError: lease.lastError,
});
