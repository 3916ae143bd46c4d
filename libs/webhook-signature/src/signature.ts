import { createHmac, timingSafeEqual } from 'node:crypto';

import type { ReplayGuard } from './replay-guard';

/** The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'Rotor-Signature';
/** Unique per notice; receivers refuse an id they have already accepted. */
export const DELIVERY_ID_HEADER = 'Rotor-Delivery-Id';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookKey = string | Buffer;
export type WebhookBody = string | Buffer;

export type WebhookFailureReason =
  | 'missing-signature'
  | 'missing-delivery-id'
  | 'malformed-signature'
  | 'bad-signature'
  | 'stale-timestamp'
  | 'future-timestamp'
  | 'replayed';

export type WebhookVerification = { ok: true; timestamp: Date } | { ok: false; reason: WebhookFailureReason };

/** The signature header value for a body, signed at `timestamp` (a Date, or unix seconds; default: now). */
export function signWebhook(input: { key: WebhookKey; body: WebhookBody; timestamp?: Date | number }): string {
  const timestamp = input.timestamp ?? new Date();
  const t = typeof timestamp === 'number' ? Math.floor(timestamp) : Math.floor(timestamp.getTime() / 1000);
  return `t=${t},v1=${hmacHex(input.key, t, input.body)}`;
}

/** One key, or several during a rotation (any of them verifies). */
export type VerificationKeys = { key: WebhookKey; keys?: never } | { keys: readonly WebhookKey[]; key?: never };

export type VerifyWebhookInput = VerificationKeys & {
  /** The raw body exactly as received: re-serialised JSON would not verify. */
  body: WebhookBody;
  signatureHeader: string | undefined;
  deliveryId: string | undefined;
  /** Remembers accepted delivery ids; without one, replays are not detected. */
  seen?: ReplayGuard;
  now?: Date;
  toleranceSeconds?: number;
};

/**
 * Checks a notice's signature, its timestamp against the tolerance window, then (only for a
 * genuine notice, so forgeries cannot fill it) that its delivery id is new.
 */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<WebhookVerification> {
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!input.signatureHeader) return failure('missing-signature');
  if (!input.deliveryId) return failure('missing-delivery-id');
  const parsed = parseSignatureHeader(input.signatureHeader);
  if (!parsed) return failure('malformed-signature');

  const keys = input.keys ?? [input.key];
  if (keys.length === 0) throw new Error('verifyWebhook needs at least one key');
  // Every key and every v1 value is compared, so the time taken does not tell which one matched.
  let match = false;
  for (const key of keys) {
    const expected = Buffer.from(hmacHex(key, parsed.t, input.body), 'hex');
    for (const candidate of parsed.signatures) match = timingSafeEqual(expected, candidate) || match;
  }
  if (!match) return failure('bad-signature');

  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (nowSeconds - parsed.t > tolerance) return failure('stale-timestamp');
  if (parsed.t - nowSeconds > tolerance) return failure('future-timestamp');

  // Past t + tolerance this exact notice is refused as stale, so the id need not be kept longer.
  if (input.seen && !(await input.seen.remember(input.deliveryId, new Date((parsed.t + tolerance) * 1000)))) return failure('replayed');
  return { ok: true, timestamp: new Date(parsed.t * 1000) };
}

const SIGNATURE_LENGTH = 32;

/** `t` and every `v1` value of the header; other schemes are ignored, as newer senders may add them. */
function parseSignatureHeader(header: string): { t: number; signatures: Buffer[] } | undefined {
  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) return undefined;
    const name = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (name === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== undefined) return undefined;
      t = Number(value);
    } else if (name === 'v1') {
      if (!/^[0-9a-fA-F]+$/.test(value) || value.length !== SIGNATURE_LENGTH * 2) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  return t === undefined || signatures.length === 0 ? undefined : { t, signatures };
}

function hmacHex(key: WebhookKey, t: number, body: WebhookBody): string {
  return createHmac('sha256', key).update(`${t}.`).update(body).digest('hex');
}

const failure = (reason: WebhookFailureReason): WebhookVerification => ({ ok: false, reason });
