import { z } from 'zod';

import { parseDuration } from '@rotor/contracts';

import { ProblemDetailsSchema } from './problem';
import { named } from './registry';

const catalogName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must name a catalog entry');

/** `POST /v1/break-glass`: what to open (managed secrets, a role or both), why, under which ticket, for how long. */
export const BreakGlassRequestSchema = named(
  'BreakGlassRequest',
  z
    .strictObject({
      secrets: z.array(catalogName).min(1).max(20).optional(),
      role: catalogName.optional(),
      /** Why manual access is unavoidable: mandatory, and recorded on the event. */
      reason: z.string().trim().min(10, 'must say why (at least 10 characters)').max(500),
      /** The incident or change ticket this access belongs to. */
      ticket: z
        .string()
        .trim()
        .min(1)
        .max(100)
        .regex(/^[\w.:#/-]+$/, 'may contain letters, digits and . _ : # / -'),
      ttl: z
        .string()
        .max(16)
        .transform((text, context) => {
          const ms = parseDuration(text);
          if (ms === undefined) {
            context.addIssue({ code: 'custom', message: 'must be a duration such as 15m or 1h' });
            return z.NEVER;
          }
          return ms;
        })
        .optional(),
    })
    .refine((body) => body.secrets !== undefined || body.role !== undefined, {
      message: 'name the managed secrets or the role to open',
      path: ['secrets'],
    }),
  'Break-glass access asked for',
);
export type BreakGlassRequest = z.infer<typeof BreakGlassRequestSchema>;

/** A break-glass access's id, as `DELETE /v1/break-glass/{id}` takes it. */
export const BreakGlassIdSchema = z.uuid();

/**
 * `POST /v1/break-glass`: time-boxed access for an SRE. The values are in this answer only;
 * every secret listed is rotated when the access ends.
 */
export const BreakGlassGrantSchema = named(
  'BreakGlassGrant',
  z.object({
    id: z.uuid(),
    expiresAt: z.iso.datetime({ offset: true }),
    secrets: z.array(z.object({ secret: z.string(), version: z.number().int(), value: z.string() })),
    /** A credential of a role outside the SRE's bindings, on a lease the operator holds. */
    role: z.object({ name: z.string(), leaseId: z.string(), credential: z.record(z.string(), z.string()) }).optional(),
    followUp: z.string(),
  }),
  'Break-glass access: the values, shown once, and when it ends',
);
export type BreakGlassGrant = z.infer<typeof BreakGlassGrantSchema>;

/** `DELETE /v1/break-glass/{id}`: the access is ending (its follow-up rotations requested). */
export const BreakGlassEndingSchema = named('BreakGlassEnding', z.object({ id: z.uuid(), state: z.literal('ending') }));
export type BreakGlassEnding = z.infer<typeof BreakGlassEndingSchema>;

const Timestamp = z.iso.datetime({ offset: true });

/**
 * `POST /v1/break-glass/preview`: what opening this access would expose, without opening it
 * and without any value: each managed secret's current version (its GSM version name, not the
 * value) and the targets its follow-up rotation redelivers to, the role and its backend, and
 * the TTLs after the caps.
 */
export const BreakGlassPreviewSchema = named(
  'BreakGlassPreview',
  z.object({
    secrets: z.array(
      z.object({
        secret: z.string(),
        /** The version opening would show now; absent when the secret has none yet (opening would answer 503 no-version-yet). */
        current: z.object({ version: z.number().int(), gsmVersion: z.string() }).optional(),
        /** Where the follow-up rotation delivers the new version when the access ends. */
        targets: z.array(z.object({ kind: z.string(), name: z.string() })),
      }),
    ),
    /** The role's credential lives min(ttl, the role's maxTtl). */
    role: z.object({ name: z.string(), backend: z.string(), ttlSeconds: z.number().int() }).optional(),
    /** How long the access would last: the requested ttl, or the policy's `breakGlassMaxTtl`. */
    ttlSeconds: z.number().int(),
    /** When it would end if opened now. */
    expiresAt: Timestamp,
    reason: z.string(),
    ticket: z.string(),
    followUp: z.string(),
  }),
  'What a break-glass access would open, without opening it',
);
export type BreakGlassPreview = z.infer<typeof BreakGlassPreviewSchema>;

/**
 * The 409 problem of `POST /v1/break-glass` when the caller's Idempotency-Key already opened an
 * access: its id and when it ends. The values are not shown again (rotor does not keep them).
 */
export const BreakGlassAlreadyOpenProblemSchema = named(
  'BreakGlassAlreadyOpenProblem',
  ProblemDetailsSchema.extend({
    code: z.literal('break-glass-already-open'),
    breakGlassId: z.uuid(),
    /** `opening` while the first request is still opening it. */
    state: z.enum(['opening', 'open', 'ended']),
    expiresAt: Timestamp.optional(),
  }),
  'The access this Idempotency-Key already opened',
);
export type BreakGlassAlreadyOpenProblem = z.infer<typeof BreakGlassAlreadyOpenProblemSchema>;

export const BreakGlassStateSchema = z.enum(['open', 'ended']);
export type BreakGlassState = z.infer<typeof BreakGlassStateSchema>;

/**
 * A break-glass access as `GET /v1/break-glass` lists it: what was opened, by whom and why, never
 * a value. `requestedBy`, `reason`, `ticket` and `openedAt` are absent on accesses opened before
 * the issuer recorded them (their role lease supplies what it can: the role, its holder and issue time).
 */
export const BreakGlassAccessSchema = named(
  'BreakGlassAccess',
  z.object({
    id: z.uuid(),
    state: BreakGlassStateSchema,
    requestedBy: z.string().optional(),
    secrets: z.array(z.string()),
    /** `name` is absent when an old access's lease record is gone. */
    role: z.object({ name: z.string().optional(), leaseId: z.string() }).optional(),
    reason: z.string().optional(),
    ticket: z.string().optional(),
    openedAt: Timestamp.optional(),
    expiresAt: Timestamp,
    /** Set once ended: when `DELETE` ended it, else its expiry. */
    endedAt: Timestamp.optional(),
  }),
  'A break-glass access, without values',
);
export type BreakGlassAccess = z.infer<typeof BreakGlassAccessSchema>;

/** `GET /v1/break-glass`: newest first; `next` continues it. */
export const BreakGlassPageSchema = named(
  'BreakGlassPage',
  z.object({
    items: z.array(BreakGlassAccessSchema),
    /** Pass as `after` for the next page; absent on the last. */
    next: z.uuid().optional(),
  }),
  'A page of break-glass accesses',
);
export type BreakGlassPage = z.infer<typeof BreakGlassPageSchema>;

/** `GET /v1/break-glass`'s query: `state` filters, `limit` and `after` (the previous page's `next`) page. */
export const BreakGlassListQuerySchema = z.strictObject({
  state: BreakGlassStateSchema.optional(),
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
