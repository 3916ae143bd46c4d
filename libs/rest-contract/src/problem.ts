import { z } from 'zod';

import { named } from './registry';

/** RFC 7807 application/problem+json, as every rotor service answers an error. */
export const ProblemDetailsSchema = named(
  'ProblemDetails',
  z.object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    /** Machine-readable reason, e.g. `invalid-lease-id`, `redis-unavailable`. */
    code: z.string(),
    /** The request field (body path, parameter or header) the problem is about. */
    field: z.string().optional(),
    /** Set on unexpected errors: the id under which the server logged them. */
    errorId: z.string().optional(),
  }),
  'RFC 7807 problem details',
);
export type ProblemDetails = z.infer<typeof ProblemDetailsSchema>;
