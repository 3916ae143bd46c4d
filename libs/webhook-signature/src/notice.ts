import { randomUUID } from 'node:crypto';
import { z } from 'zod';

import { GsmVersionNameSchema, IsoTimeSchema } from '@rotor/contracts';

export const WEBHOOK_NOTICE_TYPES = ['rotor.secret.version-ready', 'rotor.secret.version-retired'] as const;

/**
 * The body of a webhook delivery: which version of which managed secret is ready (or retired),
 * never the value; the receiver reads the value from the issuer when it needs it, at the issuer
 * URL it is configured with: a notice never says where to read (one that could would let
 * whoever holds a receiver's key point that receiver at another host). Unknown fields, an
 * older sender's `issuerUrl` among them, are dropped: on the way out (so a value cannot be
 * sent by mistake) and on the way in (so a newer sender's extra fields do not break an older
 * receiver).
 */
export const WebhookNoticeSchema = z.object({
  type: z.enum(WEBHOOK_NOTICE_TYPES),
  secret: z.string().min(1).max(253),
  version: z.number().int().positive(),
  gsmVersion: GsmVersionNameSchema.optional(),
  deliveryId: z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'must be 1-200 of A-Z a-z 0-9 . _ : -'),
  sentAt: IsoTimeSchema,
});
export type WebhookNotice = z.infer<typeof WebhookNoticeSchema>;

/** A validated notice with a fresh delivery id and `sentAt`; its JSON is the body to sign. */
export function createWebhookNotice(
  input: Omit<WebhookNotice, 'deliveryId' | 'sentAt'> & { deliveryId?: string; sentAt?: Date },
): WebhookNotice {
  return WebhookNoticeSchema.parse({
    ...input,
    deliveryId: input.deliveryId ?? randomUUID(),
    sentAt: (input.sentAt ?? new Date()).toISOString(),
  });
}
