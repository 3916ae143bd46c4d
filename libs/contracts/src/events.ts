import { z } from 'zod';

import {
  ActorSchema,
  CopyReporterSchema,
  DigestSchema,
  GsmVersionNameSchema,
  IsoTimeSchema,
  RevocationHandleSchema,
  TargetRefSchema,
  WorkloadSchema,
} from './common';
import { BackendKindSchema } from './kinds';
import { Topics, type TopicName } from './topics';

/**
 * The `data` of every rotor event, one schema per topic. None of them has a field for a
 * secret value: events carry references (GSM version names), hashes and metadata only.
 */
const LeaseRef = {
  leaseId: z.uuid(),
  role: z.string().min(1),
  owner: z.string().min(1),
  backend: BackendKindSchema,
  workload: WorkloadSchema,
};

export const EventDataSchemas = {
  [Topics.leaseIssued]: z.object({
    ...LeaseRef,
    task: z.string().min(1).optional(),
    issuedAt: IsoTimeSchema,
    expiresAt: IsoTimeSchema,
    maxExpiresAt: IsoTimeSchema,
    revocationHandle: RevocationHandleSchema,
  }),
  [Topics.leaseRenewed]: z.object({
    ...LeaseRef,
    renewedAt: IsoTimeSchema,
    expiresAt: IsoTimeSchema,
    maxExpiresAt: IsoTimeSchema,
  }),
  [Topics.secretVersionCreated]: z.object({
    secret: z.string().min(1),
    owner: z.string().min(1),
    version: z.number().int().positive(),
    gsmVersion: GsmVersionNameSchema,
    previousVersion: z.number().int().positive().optional(),
    reason: z.enum(['scheduled', 'requested', 'emergency', 'breakglass', 'initial']),
    /** Set when an emergency rotation asked for this version, so its progress can count it. */
    emergencyId: z.string().min(1).optional(),
    createdAt: IsoTimeSchema,
  }),
  [Topics.deliveryCompleted]: z.object({
    secret: z.string().min(1),
    version: z.number().int().positive(),
    target: TargetRefSchema,
    locator: z.string().min(1),
    contentHash: DigestSchema,
    /** The id of the ROTOR_CONTENT_HASH_KEY that made contentHash (a keyring rotates); absent in events from before key ids. */
    contentHashKeyId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'must be a key id')
      .optional(),
    deliveredAt: IsoTimeSchema,
    /**
     * Only for a kubernetes-secret target with rollout on: the Deployments and StatefulSets of the
     * Secret's namespace that use it, now carrying this content's hash on their pod template;
     * `patched: false` when one already did (a repeated delivery rolls nothing).
     */
    rollout: z
      .array(
        z.object({
          kind: z.enum(['Deployment', 'StatefulSet']),
          name: z.string().min(1).max(253),
          patched: z.boolean(),
        }),
      )
      .optional(),
  }),
  [Topics.deliveryFailed]: z.object({
    secret: z.string().min(1),
    version: z.number().int().positive(),
    target: TargetRefSchema,
    reason: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
  [Topics.deliveryRemoved]: z.object({
    secret: z.string().min(1),
    version: z.number().int().positive(),
    target: TargetRefSchema,
    locator: z.string().min(1),
    /** superseded: a newer version replaced it in place; retired: its version was retired; drift-repair: a reconcile removed it. */
    reason: z.enum(['superseded', 'retired', 'drift-repair']).optional(),
    removedAt: IsoTimeSchema,
  }),
  [Topics.deliveryDriftDetected]: z.object({
    target: TargetRefSchema,
    locator: z.string().min(1),
    /** unaccounted: labelled as rotor's but no delivery made it; edited: content no longer matches; missing: deleted by hand. */
    drift: z.enum(['unaccounted', 'edited', 'retired-version', 'missing']),
    version: z.number().int().positive().optional(),
    secret: z.string().min(1).optional(),
    repaired: z.boolean(),
  }),
  [Topics.revocationRequested]: z.object({
    subject: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('lease'), leaseId: z.uuid() }),
      z.object({ kind: z.literal('secret-version'), secret: z.string().min(1), version: z.number().int().positive() }),
    ]),
    reason: z.enum(['expired', 'requested', 'emergency', 'breakglass-ended']),
    requestedBy: ActorSchema,
    emergencyId: z.string().min(1).optional(),
  }),
  [Topics.leaseRevoked]: z.object({
    ...LeaseRef,
    /**
     * catalog-withdrawn: the catalog no longer has its role, or no longer binds its workload, past the grace;
     * pod-gone: the pod its token named (workload.podName and podUid) no longer exists.
     */
    reason: z.enum(['expired', 'requested', 'emergency', 'breakglass-ended', 'catalog-withdrawn', 'pod-gone']),
    revokedAt: IsoTimeSchema,
  }),
  [Topics.secretVersionRetired]: z.object({
    secret: z.string().min(1),
    version: z.number().int().positive(),
    gsmVersion: GsmVersionNameSchema,
    reason: z.enum(['superseded', 'grace-period-ended', 'emergency']),
    retiredAt: IsoTimeSchema,
  }),
  [Topics.revocationFailed]: z.object({
    leaseId: z.uuid(),
    attempt: z.number().int().positive(),
    error: z.string().min(1),
    irrevocable: z.boolean(),
    nextAttemptAt: IsoTimeSchema,
  }),
  /**
   * The revoker's reconciliation sweep found a credential rotor minted at a backend (by its
   * name: a `rotor_<lease id>` role, a `rotor-<lease id>` ACL user) with no live lease, for
   * longer than the safety margin, and revoked it: what a lost or restored Redis forgot.
   */
  [Topics.credentialOrphanRevoked]: z.object({
    backend: BackendKindSchema,
    /** The lease id the credential's name carries; no lease with it is live. */
    leaseId: z.uuid(),
    revocationHandle: RevocationHandleSchema,
    /** untracked: the revoker has no record of the lease; revoked-lease: its record says revoked, yet the credential was there. */
    reason: z.enum(['untracked', 'revoked-lease']),
    /** When the sweep first saw it without a live lease (its creation was earlier still). */
    firstSeenAt: IsoTimeSchema,
    revokedAt: IsoTimeSchema,
  }),
  [Topics.rotationRequested]: z.object({
    secret: z.string().min(1),
    reason: z.enum(['scheduled', 'requested', 'emergency', 'breakglass']),
    requestedBy: ActorSchema,
    emergencyId: z.string().min(1).optional(),
  }),
  [Topics.emergencyProgress]: z.object({
    emergencyId: z.string().min(1),
    state: z.enum(['running', 'completed', 'failed']),
    matched: z.number().int().nonnegative(),
    revoked: z.number().int().nonnegative(),
    rotated: z.number().int().nonnegative(),
    delivered: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    retired: z.number().int().nonnegative().optional(),
    quotaLimited: z.boolean(),
  }),
  [Topics.access]: z.object({
    actor: ActorSchema,
    action: z.enum(['read-secret', 'introspect', 'read-lease']),
    secret: z.string().min(1).optional(),
    version: z.number().int().positive().optional(),
    leaseId: z.uuid().optional(),
    at: IsoTimeSchema,
  }),
  [Topics.breakglassUsed]: z.object({
    actor: ActorSchema,
    leaseId: z.uuid(),
    secrets: z.array(z.string().min(1)),
    role: z.string().min(1).optional(),
    reason: z.string().min(1),
    ticket: z.string().min(1),
    expiresAt: IsoTimeSchema,
  }),
  [Topics.copyDiscovered]: z.object({
    secret: z.string().min(1),
    version: z.number().int().positive(),
    location: z.object({
      kind: z.enum(['kubernetes-secret', 'kubernetes-configmap', 'file', 'ci-variable']),
      namespace: z.string().optional(),
      name: z.string().optional(),
      key: z.string().optional(),
      path: z.string().optional(),
      line: z.number().int().positive().optional(),
    }),
    /** The managed secret's owner, from the catalog. */
    owner: z.string().min(1).optional(),
    /** How the value appeared: as itself, or base64-encoded (a manifest's `data:`). */
    form: z.enum(['raw', 'base64']).optional(),
    /** True when the distributor removed the copy because the catalog says `copies: remove`. */
    removed: z.boolean().optional(),
    /** Who reported it; events from before this field read as `unknown` (an upcast, not a new version). */
    reportedBy: CopyReporterSchema.default({ kind: 'unknown' }),
    /** Which scan found it: the distributor's cluster scan or an operator's `rotor scan --report`. */
    scanner: z.enum(['cluster-scan', 'cli-scan', 'unknown']).default('unknown'),
    discoveredAt: IsoTimeSchema,
  }),
} as const satisfies Record<Exclude<TopicName, typeof Topics.auditLog | typeof Topics.deadLetter>, z.ZodType>;

export type DomainTopic = keyof typeof EventDataSchemas;
export type EventData<T extends DomainTopic> = z.infer<(typeof EventDataSchemas)[T]>;

/**
 * A hash-chained audit record (`rotor.audit.log.v1`). `event` is the original envelope, already value-free.
 * `link: 'sha256'`: hash = SHA-256(prev ‖ canonical JSON of the record without its hash), checkable by anyone.
 * Absent (records written before checkpoints existed): HMAC-SHA256 with ROTOR_AUDIT_KEY, checkable only with that key.
 */
export const AuditRecordSchema = z.object({
  seq: z.number().int().nonnegative(),
  chain: z.string().min(1),
  sourceTopic: z.string().min(1),
  sourcePartition: z.number().int().nonnegative(),
  sourceOffset: z.string().regex(/^\d+$/),
  eventId: z.string().min(1),
  eventType: z.string().min(1),
  known: z.boolean(),
  recordedAt: IsoTimeSchema,
  event: z.record(z.string(), z.unknown()),
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  link: z.literal('sha256').optional(),
  hash: DigestSchema,
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/**
 * A signed checkpoint on the audit topic: the head of every chain, signed (Ed25519) by the
 * auditor, written to every partition of the audit topic and kept outside Kafka (GSM) too.
 * `signature` (base64url) covers the canonical JSON of every other member.
 */
export const AuditCheckpointSchema = z.object({
  kind: z.literal('checkpoint'),
  number: z.number().int().positive(),
  issuedAt: IsoTimeSchema,
  /** The auditor's checkpoint interval: a verifier fails when the last checkpoint is older than two. */
  intervalMs: z.number().int().positive(),
  /** Partitions of the audit topic, each of which holds a copy of this checkpoint. */
  partitions: z.number().int().positive(),
  heads: z.array(
    z.object({
      chain: z.string().min(1),
      seq: z.number().int().nonnegative(),
      hash: DigestSchema,
      /** The audit topic partition holding the chain. */
      partition: z.number().int().nonnegative(),
    }),
  ),
  /** RFC 7638 thumbprint of the signing public key. */
  keyId: z.string().min(1),
  signature: z.string().regex(/^[A-Za-z0-9_-]+$/),
});
export type AuditCheckpoint = z.infer<typeof AuditCheckpointSchema>;

/** Any message of the audit topic: a record, or a checkpoint. */
export const AuditLogMessageSchema = z.union([AuditCheckpointSchema, AuditRecordSchema]);
export type AuditLogMessage = z.infer<typeof AuditLogMessageSchema>;

/** A message that could not be processed, with the reason and the original bytes (base64). */
export const DeadLetterSchema = z.object({
  sourceTopic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.string().min(1),
  consumerGroup: z.string().min(1),
  reason: z.string().min(1),
  attempts: z.number().int().nonnegative(),
  key: z.string().nullable(),
  value: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  failedAt: IsoTimeSchema,
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
