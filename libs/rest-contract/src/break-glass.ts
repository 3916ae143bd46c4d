import { z } from 'zod';

import { named } from './registry';

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
