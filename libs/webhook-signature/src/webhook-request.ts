import type { WebhookSigningKey } from './keyring';
import { WebhookNoticeSchema, type WebhookNotice } from './notice';
import { DELIVERY_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './signature';

/** Body and headers of one signed delivery: POST them as they are (the body must not be re-serialised). */
export function signedWebhookRequest(input: { key: WebhookSigningKey; notice: WebhookNotice; timestamp?: Date | number }): {
  body: string;
  headers: Record<string, string>;
} {
  // Parsed again so that a field added by mistake (a value) is dropped before it is sent.
  const body = JSON.stringify(WebhookNoticeSchema.parse(input.notice));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signWebhook({ key: input.key, body, timestamp: input.timestamp }),
      [DELIVERY_ID_HEADER]: input.notice.deliveryId,
    },
  };
}
