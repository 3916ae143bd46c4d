import { z } from 'zod';

import { named } from './registry';

/** RFC 7662 §2.1, as JSON or form-encoded. */
export const IntrospectionRequestSchema = named(
  'IntrospectionRequest',
  z.object({ token: z.string().min(1).max(4096), token_type_hint: z.string().optional() }),
  'RFC 7662 introspection request',
);
export type IntrospectionRequest = z.infer<typeof IntrospectionRequestSchema>;

/** RFC 7662 §2.2: active only while the token's lease is; anything else is the same plain `inactive`. */
export const IntrospectionAnswerSchema = named(
  'IntrospectionAnswer',
  z.discriminatedUnion('active', [
    z.object({ active: z.literal(false) }),
    z.object({
      active: z.literal(true),
      sub: z.string(),
      scope: z.string(),
      exp: z.number().int(),
      iat: z.number().int(),
      token_type: z.literal('opaque-token'),
      lease_id: z.string(),
      owner: z.string(),
    }),
  ]),
  'RFC 7662 introspection answer',
);
export type IntrospectionAnswer = z.infer<typeof IntrospectionAnswerSchema>;
