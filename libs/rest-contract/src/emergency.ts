import { z } from 'zod';

import { BackendKindSchema } from '@rotor/contracts';

import { IdempotencyKeySchema } from './leases';
import { named } from './registry';

const label = z.string().min(1).max(253);

/** Which leases and managed secrets an emergency rotation covers; fields combine with AND. */
export const EmergencySelectorSchema = named(
  'EmergencySelector',
  z
    .strictObject({
      namespace: label.optional(),
      /** Needs `namespace`: a service-account name alone says nothing. */
      serviceAccount: label.optional(),
      role: label.optional(),
      backend: BackendKindSchema.optional(),
      secret: label.optional(),
      all: z.literal(true).optional(),
    })
    .refine((selector) => Object.values(selector).some((value) => value !== undefined), {
      message: 'must name at least one of namespace, serviceAccount, role, backend, secret, all',
    })
    .refine((selector) => !selector.all || Object.values(selector).filter((value) => value !== undefined).length === 1, {
      message: 'all cannot be combined with other fields',
      path: ['all'],
    })
    .refine((selector) => !selector.serviceAccount || selector.namespace, { message: 'needs namespace as well', path: ['serviceAccount'] }),
);
export type EmergencySelector = z.infer<typeof EmergencySelectorSchema>;

export const EmergencyModeSchema = z.enum(['immediate', 'graceful']);

/** `POST /v1/emergency-rotations`. `requestId` (or the Idempotency-Key header) makes a retry find the rotation it started. */
export const EmergencyRotationRequestSchema = named(
  'EmergencyRotationRequest',
  z.strictObject({
    selector: EmergencySelectorSchema,
    /** immediate: retire the previous versions as soon as the new ones exist; graceful: after confirmations or the grace period. */
    mode: EmergencyModeSchema,
    reason: z.string().trim().min(1, 'is required').max(1_000),
    requestId: IdempotencyKeySchema.optional(),
  }),
  'An emergency rotation asked for',
);
export type EmergencyRotationRequest = z.infer<typeof EmergencyRotationRequestSchema>;

/** `POST /v1/emergency-rotations/preview`: the selector to count, nothing started. */
export const EmergencyPreviewRequestSchema = named(
  'EmergencyPreviewRequest',
  z.strictObject({ selector: EmergencySelectorSchema }),
  'The selector of a rotation to preview',
);

export const EmergencyIdSchema = z.uuid();
export const EmergencyStateSchema = z.enum(['running', 'completed', 'failed']);
/** Checkpointed steps: snapshot matching leases → list matching secrets → request revocations → request rotations → watch counts. */
export const EmergencyPhaseSchema = z.enum(['match-leases', 'match-secrets', 'revoke', 'rotate', 'watch', 'done']);
/** Progress counts: leases revoked or failed; secrets rotated, delivered, their old versions retired. */
export const EMERGENCY_COUNTERS = ['revoked', 'failed', 'rotated', 'delivered', 'retired'] as const;

const count = z.number().int().min(0);

/** An emergency rotation and its progress, as `POST` and `GET /v1/emergency-rotations` answer. */
export const EmergencyRotationViewSchema = named(
  'EmergencyRotationView',
  z.object({
    id: z.uuid(),
    state: EmergencyStateSchema,
    phase: EmergencyPhaseSchema,
    mode: EmergencyModeSchema,
    reason: z.string(),
    selector: EmergencySelectorSchema,
    /** The SRE who started it (token subject). */
    requestedBy: z.string(),
    requestId: z.string().optional(),
    matched: z.object({ leases: count, secrets: count }),
    revoked: count,
    failed: count,
    rotated: count,
    delivered: count,
    retired: count,
    /** GSM's write quota is pacing the rotations. */
    quotaLimited: z.boolean(),
    startedAt: z.iso.datetime({ offset: true }),
    completedAt: z.iso.datetime({ offset: true }).optional(),
  }),
  'An emergency rotation and its progress',
);
export type EmergencyRotationView = z.infer<typeof EmergencyRotationViewSchema>;

/**
 * `POST /v1/emergency-rotations/preview`: what a rotation with this selector would cover now,
 * started nothing. Leases counted by role and backend; managed secrets with their targets.
 */
export const EmergencyPreviewSchema = named(
  'EmergencyPreview',
  z.object({
    selector: EmergencySelectorSchema,
    leases: z.object({
      total: count,
      byRole: z.record(z.string(), count),
      byBackend: z.record(z.string(), count),
    }),
    secrets: z.array(z.object({ secret: z.string(), targets: z.array(z.object({ kind: z.string(), name: z.string() })) })),
  }),
  'What an emergency rotation would cover',
);
export type EmergencyPreview = z.infer<typeof EmergencyPreviewSchema>;
