import { z } from 'zod';

import { named } from './registry';

/** `GET /v1/secrets/{name}`: the current version of a managed secret, for a workload bound to it. */
export const SecretValueSchema = named(
  'SecretValue',
  z.object({ secret: z.string(), version: z.number().int(), createdAt: z.iso.datetime({ offset: true }), value: z.string() }),
  'The current version of a managed secret',
);
export type SecretValue = z.infer<typeof SecretValueSchema>;

/** A managed secret's name, as the catalog allows it. */
export const ManagedSecretNameSchema = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must name a managed secret');
