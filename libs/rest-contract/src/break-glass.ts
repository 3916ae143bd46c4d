import { z } from 'zod';

import { parseDuration } from '@rotor/contracts';

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
