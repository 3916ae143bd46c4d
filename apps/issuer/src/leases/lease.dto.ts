import { z } from 'zod';

import { parseDuration } from '@rotor/catalog';

/** A TTL as seconds (number) or a duration string (`15m`). */
const ttl = z
  .union([
    z
      .number()
      .int()
      .positive()
      .max(31 * 86_400),
    z.string().max(32),
  ])
  .transform((value, context) => {
    const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: 'must be seconds or a duration such as 90s, 15m, 1h' });
      return z.NEVER;
    }
    return ms;
  });

export const IssueCredentialBody = z.strictObject({
  role: z.string().min(1).max(63),
  ttl: ttl.optional(),
  task: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w.:/-]+$/, 'may contain letters, digits and . _ : / -')
    .optional(),
});

export const RenewLeaseBody = z.strictObject({ ttl: ttl.optional() });

export const LeaseIdParam = z.uuid();

export const IdempotencyKeyHeader = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
