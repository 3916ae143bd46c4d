import { z } from 'zod';

import { named } from './registry';

/**
 * `GET /v1/whoami`: who rotor takes the bearer of a token to be, after its own checks: a
 * workload (from the cluster's issuer) or a person with the rotor groups their IdP groups map to.
 */
export const CallerViewSchema = named(
  'CallerView',
  z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('workload'),
      subject: z.string(),
      workload: z.object({
        namespace: z.string(),
        serviceAccount: z.string(),
        podName: z.string().optional(),
        podUid: z.string().optional(),
      }),
    }),
    z.object({ kind: z.literal('operator'), subject: z.string(), groups: z.array(z.string()) }),
  ]),
  'The caller as rotor sees it',
);
export type CallerView = z.infer<typeof CallerViewSchema>;
