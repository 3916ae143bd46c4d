import { WebhookNoticeSchema, type WebhookNotice } from './notice';
import type { ReplayGuard } from './replay-guard';
import { DEFAULT_TOLERANCE_SECONDS, verifyWebhookSignature, type SignatureFailureReason, type VerifySignatureInput } from './signature';

export type WebhookFailureReason =
  SignatureFailureReason | 'missing-delivery-id' | 'malformed-notice' | 'delivery-id-mismatch' | 'replayed';

export type WebhookVerification =
  { ok: true; notice: WebhookNotice; timestamp: Date; keyId: string } | { ok: false; reason: WebhookFailureReason; detail?: string };

export type VerifyWebhookInput = VerifySignatureInput & {
  /** The `Rotor-Delivery-Id` header; it must equal the signed body's `deliveryId`. */
  deliveryId: string | undefined;
  /** Remembers accepted delivery ids; without one, replays are not detected. */
  seen?: ReplayGuard;
};

/**
 * Checks a delivery in full: signature and timestamp, then the notice in the signed body, then
 * (only for a genuine notice, so forgeries cannot fill it) that its delivery id is new. The
 * replay guard is keyed on the id inside the signed body: the header is not signed, so an id
 * taken from it could be chosen by whoever replays a captured body.
 */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<WebhookVerification> {
  if (!input.signatureHeader) return { ok: false, reason: 'missing-signature' };
  if (!input.deliveryId) return { ok: false, reason: 'missing-delivery-id' };
  const signature = verifyWebhookSignature(input);
  if (!signature.ok) return signature;

  const notice = parseNotice(input.body);
  if (!notice.success) return { ok: false, reason: 'malformed-notice', detail: notice.detail };
  if (notice.data.deliveryId !== input.deliveryId) return { ok: false, reason: 'delivery-id-mismatch' };

  // Past t + tolerance this exact notice is refused as stale, so the id need not be kept longer.
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const forgetAt = new Date(signature.timestamp.getTime() + tolerance * 1000);
  if (input.seen && !(await input.seen.remember(notice.data.deliveryId, forgetAt))) return { ok: false, reason: 'replayed' };
  return { ok: true, notice: notice.data, timestamp: signature.timestamp, keyId: signature.keyId };
}

function parseNotice(body: string | Buffer): { success: true; data: WebhookNotice } | { success: false; detail: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { success: false, detail: 'the body is not JSON' };
  }
  const parsed = WebhookNoticeSchema.safeParse(json);
  if (parsed.success) return { success: true, data: parsed.data };
  const issue = parsed.error.issues[0];
  return { success: false, detail: issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid notice' };
}
