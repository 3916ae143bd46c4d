import { z } from 'zod';

import { BackendKindSchema } from '@rotor/contracts';

import { IdempotencyKeySchema } from './leases';
import { named } from './registry';

const label = z.string().min(1).max(253);

const selectorFields = {
  namespace: label.optional(),
  /** Needs `namespace`: a service-account name alone says nothing. */
  serviceAccount: label.optional(),
  role: label.optional(),
  backend: BackendKindSchema.optional(),
};

/** The rules both selectors share: at least one field, `all` alone, `serviceAccount` with `namespace`. */
const selectorRules = <S extends z.ZodType<Record<string, unknown> & { all?: true; namespace?: string; serviceAccount?: string }>>(
  schema: S,
  fields: string,
) =>
  schema
    .refine((selector) => Object.values(selector).some((value) => value !== undefined), {
      message: `must name at least one of ${fields}`,
    })
    .refine((selector) => !selector.all || Object.values(selector).filter((value) => value !== undefined).length === 1, {
      message: 'all cannot be combined with other fields',
      path: ['all'],
    })
    .refine((selector) => !selector.serviceAccount || selector.namespace, { message: 'needs namespace as well', path: ['serviceAccount'] });

/** Which leases and managed secrets an emergency rotation covers; fields combine with AND. */
export const EmergencySelectorSchema = named(
  'EmergencySelector',
  selectorRules(
    z.strictObject({ ...selectorFields, secret: label.optional(), all: z.literal(true).optional() }),
    'namespace, serviceAccount, role, backend, secret, all',
  ),
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
/** Leases counted by role and backend (a preview's). */
const LeaseCountsSchema = z.object({
  total: count,
  byRole: z.record(z.string(), count),
  byBackend: z.record(z.string(), count),
});

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
    leases: LeaseCountsSchema,
    secrets: z.array(z.object({ secret: z.string(), targets: z.array(z.object({ kind: z.string(), name: z.string() })) })),
  }),
  'What an emergency rotation would cover',
);
export type EmergencyPreview = z.infer<typeof EmergencyPreviewSchema>;

/** Which leases a revocation by selector covers: the emergency selector without `secret` (it touches no managed secret). */
export const LeaseSelectorSchema = named(
  'LeaseSelector',
  selectorRules(z.strictObject({ ...selectorFields, all: z.literal(true).optional() }), 'namespace, serviceAccount, role, backend, all'),
);
export type LeaseSelector = z.infer<typeof LeaseSelectorSchema>;

/** `POST /v1/lease-revocations/preview`: the leases a revocation with this selector would end now; starts nothing. */
export const LeaseRevocationPreviewSchema = named(
  'LeaseRevocationPreview',
  z.object({ selector: LeaseSelectorSchema, leases: LeaseCountsSchema }),
  'What a lease revocation would cover',
);
export type LeaseRevocationPreview = z.infer<typeof LeaseRevocationPreviewSchema>;

/** Checkpointed steps of a lease revocation: snapshot matching leases → request their revocation → watch counts. */
export const LeaseRevocationPhaseSchema = z.enum(['match-leases', 'revoke', 'watch', 'done']);

/** A revocation of leases by selector and its progress, as `POST` and `GET /v1/lease-revocations` answer. */
export const LeaseRevocationViewSchema = named(
  'LeaseRevocationView',
  z.object({
    id: z.uuid(),
    state: EmergencyStateSchema,
    phase: LeaseRevocationPhaseSchema,
    reason: z.string(),
    selector: LeaseSelectorSchema,
    /** The SRE who started it (token subject); each lease's `revocation.requested` names them too. */
    requestedBy: z.string(),
    requestId: z.string().optional(),
    /** Leases in the snapshot taken when it started (those issued later are not covered). */
    matched: count,
    revoked: count,
    /** Leases past the revoker's attempt limit (irrevocable, still retried). */
    failed: count,
    startedAt: z.iso.datetime({ offset: true }),
    completedAt: z.iso.datetime({ offset: true }).optional(),
  }),
  'A revocation of leases by selector and its progress',
);
export type LeaseRevocationView = z.infer<typeof LeaseRevocationViewSchema>;

/** `GET /v1/emergency-rotations`: newest first; `next` continues it. */
export const EmergencyRotationPageSchema = named(
  'EmergencyRotationPage',
  z.object({
    items: z.array(EmergencyRotationViewSchema),
    /** Pass as `after` for the next page; absent on the last. */
    next: z.uuid().optional(),
  }),
  'A page of emergency rotations, newest first',
);
export type EmergencyRotationPage = z.infer<typeof EmergencyRotationPageSchema>;

/** `GET /v1/lease-revocations`: newest first; `next` continues it. */
export const LeaseRevocationPageSchema = named(
  'LeaseRevocationPage',
  z.object({
    items: z.array(LeaseRevocationViewSchema),
    /** Pass as `after` for the next page; absent on the last. */
    next: z.uuid().optional(),
  }),
  'A page of lease revocations, newest first',
);
export type LeaseRevocationPage = z.infer<typeof LeaseRevocationPageSchema>;

/** The query of both lists: `limit` (default 50, at most 500), `after` (a page's `next`), `state`. */
export const RunListQuerySchema = z.strictObject({
  state: EmergencyStateSchema.optional(),
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type RunListQuery = z.infer<typeof RunListQuerySchema>;

/** `POST /v1/lease-revocations`: an emergency run over leases only, so no mode. `requestId` or Idempotency-Key as for rotations. */
export const LeaseRevocationRequestSchema = named(
  'LeaseRevocationRequest',
  z.strictObject({
    selector: LeaseSelectorSchema,
    reason: z.string().trim().min(1, 'is required').max(1_000),
    requestId: IdempotencyKeySchema.optional(),
  }),
  'A revocation of leases by selector asked for',
);
export type LeaseRevocationRequest = z.infer<typeof LeaseRevocationRequestSchema>;

/** `POST /v1/lease-revocations/preview`: the selector to count, nothing started. */
export const LeaseRevocationPreviewRequestSchema = named(
  'LeaseRevocationPreviewRequest',
  z.strictObject({ selector: LeaseSelectorSchema }),
  'The selector of a lease revocation to preview',
);
