import { createHmac, timingSafeEqual } from 'node:crypto';

import type { WebhookKeyring, WebhookSigningKey } from './keyring';

/** The signature header: `t=<unix seconds>,kid=<key id>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'Rotor-Signature';
/** Unique per notice, and equal to the signed body's `deliveryId`; receivers refuse an id they have already accepted. */
export const DELIVERY_ID_HEADER = 'Rotor-Delivery-Id';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookKey = string | Buffer;
export type WebhookBody = string | Buffer;

export type SignatureFailureReason =
  'missing-signature' | 'malformed-signature' | 'unknown-key-id' | 'bad-signature' | 'stale-timestamp' | 'future-timestamp';

export type SignatureVerification = { ok: true; timestamp: Date; keyId: string } | { ok: false; reason: SignatureFailureReason };

/**
 * The signature header value for a body, signed at `timestamp` (a Date, or unix seconds; default: now).
 * The key id tells the receiver which of its keys to check; it needs no MAC of its own: a changed
 * id selects another key (or none), and the signature then fails.
 */
export function signWebhook(input: { key: WebhookSigningKey; body: WebhookBody; timestamp?: Date | number }): string {
  const timestamp = input.timestamp ?? new Date();
  const t = typeof timestamp === 'number' ? Math.floor(timestamp) : Math.floor(timestamp.getTime() / 1000);
  return `t=${t},kid=${input.key.id},v1=${hmacHex(input.key.key, t, input.body)}`;
}

export interface VerifySignatureInput {
  /** Every key currently accepted: during a rotation, the new and the old. */
  keyring: WebhookKeyring;
  /** The raw body exactly as received: re-serialised JSON would not verify. */
  body: WebhookBody;
  signatureHeader: string | undefined;
  now?: Date;
  toleranceSeconds?: number;
}

/**
 * Checks a signature and its timestamp against the tolerance window. With a key id, only that
 * key is tried, and an id the keyring does not list (a retired key) is refused; a header without
 * one (a sender from before key ids) is checked against every key.
 */
export function verifyWebhookSignature(input: VerifySignatureInput): SignatureVerification {
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (input.keyring.length === 0) throw new Error('verifyWebhookSignature needs at least one key');
  if (!input.signatureHeader) return failure('missing-signature');
  const parsed = parseSignatureHeader(input.signatureHeader);
  if (!parsed) return failure('malformed-signature');

  const candidates = parsed.kid === undefined ? input.keyring : input.keyring.filter((entry) => entry.id === parsed.kid);
  if (candidates.length === 0) return failure('unknown-key-id');
  // Every candidate key and every v1 value is compared, so the time taken does not tell which one matched.
  let matched: string | undefined;
  for (const candidate of candidates) {
    const expected = Buffer.from(hmacHex(candidate.key, parsed.t, input.body), 'hex');
    for (const signature of parsed.signatures) if (timingSafeEqual(expected, signature)) matched ??= candidate.id;
  }
  if (matched === undefined) return failure('bad-signature');

  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (nowSeconds - parsed.t > tolerance) return failure('stale-timestamp');
  if (parsed.t - nowSeconds > tolerance) return failure('future-timestamp');
  return { ok: true, timestamp: new Date(parsed.t * 1000), keyId: matched };
}

const SIGNATURE_LENGTH = 32;

/** `t`, `kid` and every `v1` value of the header; other schemes are ignored, as newer senders may add them. */
function parseSignatureHeader(header: string): { t: number; kid?: string; signatures: Buffer[] } | undefined {
  let t: number | undefined;
  let kid: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) return undefined;
    const name = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (name === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== undefined) return undefined;
      t = Number(value);
    } else if (name === 'kid') {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(value) || kid !== undefined) return undefined;
      kid = value;
    } else if (name === 'v1') {
      if (!/^[0-9a-fA-F]+$/.test(value) || value.length !== SIGNATURE_LENGTH * 2) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  return t === undefined || signatures.length === 0 ? undefined : { t, ...(kid !== undefined ? { kid } : {}), signatures };
}

function hmacHex(key: WebhookKey, t: number, body: WebhookBody): string {
  return createHmac('sha256', key).update(`${t}.`).update(body).digest('hex');
}

const failure = (reason: SignatureFailureReason): SignatureVerification => ({ ok: false, reason });
