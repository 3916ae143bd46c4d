import { z } from 'zod';

import { TargetKindSchema, type AssertTrue, type BackendKind, type SameKinds } from './kinds';

/** A Kubernetes workload identity, as proven by its service-account token. */
export const WorkloadSchema = z.object({
  namespace: z.string().min(1),
  serviceAccount: z.string().min(1),
  podName: z.string().min(1).optional(),
  podUid: z.string().min(1).optional(),
});
export type Workload = z.infer<typeof WorkloadSchema>;

/**
 * The namespace in the `workload` of a lease an operator holds (break-glass) rather than a
 * workload. It is not a DNS label, so no Kubernetes namespace, service-account token, binding
 * name or workload lookup can ever be it; the serviceAccount field carries the operator's subject.
 */
export const OPERATOR_HOLDER_NAMESPACE = 'rotor:operator';

export const operatorHeldWorkload = (subject: string): Workload => ({ namespace: OPERATOR_HOLDER_NAMESPACE, serviceAccount: subject });

/** Who acted: a workload, an operator (by token subject and groups), or a rotor service. */
export const ActorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('workload'), workload: WorkloadSchema }),
  z.object({ kind: z.literal('operator'), subject: z.string().min(1), groups: z.array(z.string()) }),
  z.object({ kind: z.literal('service'), service: z.string().min(1) }),
]);
export type Actor = z.infer<typeof ActorSchema>;

/**
 * Who reported a copy found outside the inventory: a rotor service (its own scan) or the
 * authenticated caller who posted the finding. `unknown` exists only for events written before
 * the field did: they are upcast to it when read, never produced with it.
 */
export const CopyReporterSchema = z.discriminatedUnion('kind', [...ActorSchema.options, z.object({ kind: z.literal('unknown') })]);
export type CopyReporter = z.infer<typeof CopyReporterSchema>;

/**
 * What the revoker needs to revoke a lease at its backend. Names only: never a password or token.
 */
export const RevocationHandleSchema = z.discriminatedUnion('backend', [
  z.object({ backend: z.literal('opaque-token') }),
  z.object({ backend: z.literal('postgres'), roleName: z.string().min(1) }),
  z.object({ backend: z.literal('redis-acl'), username: z.string().min(1) }),
]);
export type RevocationHandle = z.infer<typeof RevocationHandleSchema>;
/** Compile-time: a handle shape for every backend kind and for nothing else. */
type _HandleForEveryBackend = AssertTrue<SameKinds<RevocationHandle['backend'], BackendKind>>;

export const IsoTimeSchema = z.iso.datetime({ offset: true });

/** `projects/P/secrets/S/versions/V`: a reference to a value in GSM, never the value. */
export const GsmVersionNameSchema = z
  .string()
  .regex(/^projects\/[^/]+\/secrets\/[^/]+\/versions\/\d+$/, 'must be projects/P/secrets/S/versions/V');

export const TargetRefSchema = z.object({
  kind: TargetKindSchema,
  name: z.string().min(1),
});
export type TargetRef = z.infer<typeof TargetRefSchema>;

/** A lowercase hex SHA-256 or HMAC-SHA256 digest. */
export const DigestSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256 digest');
