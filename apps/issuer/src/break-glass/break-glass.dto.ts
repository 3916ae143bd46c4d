import { z } from 'zod';

import { parseDuration } from '@rotor/catalog';
import { BreakGlassStateSchema } from '@rotor/rest-contract';

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must name a catalog entry');

export const BreakGlassBody = z
  .strictObject({
    secrets: z.array(name).min(1).max(20).optional(),
    role: name.optional(),
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
  });

export type BreakGlassRequest = z.infer<typeof BreakGlassBody>;

/** The same rule as the revoker's emergency rotations and the issuer's credentials. */
export const BreakGlassIdempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const BreakGlassListQuery = z.strictObject({
  state: BreakGlassStateSchema.optional(),
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
