import type { WebhookKey } from './signature';

/** One key of a receiver, with the id that names it in the signature header. */
export interface WebhookSigningKey {
  id: string;
  key: WebhookKey;
}

/**
 * The keys of one receiver, newest first: the sender signs with the first; a receiver accepts
 * every listed key. A rotation is: receiver lists new and old → sender's keyring starts with the
 * new key → receiver drops the old key (retired), after which the old key's signatures are refused.
 */
export type WebhookKeyring = readonly WebhookSigningKey[];

export const WEBHOOK_KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_WEBHOOK_KEY_LENGTH = 32;

/** A keyring that cannot be used; the message names the entry, never a key. */
export class WebhookKeyringError extends Error {
  override readonly name = 'WebhookKeyringError';
}

/**
 * Reads the text form of a keyring: `<key id>:<key>` entries, newest first, separated by commas
 * or whitespace (so a mounted file may hold one per line), e.g. `2026-12:9f3a…,2026-06:51c0…`.
 */
export function parseWebhookKeyring(text: string): WebhookKeyring {
  const entries = text.split(/[\s,]+/).filter(Boolean);
  if (entries.length === 0) throw new WebhookKeyringError('the keyring is empty: expected <key id>:<key>[,<key id>:<key>…], newest first');
  const keyring: WebhookSigningKey[] = [];
  entries.forEach((entry, index) => {
    const separator = entry.indexOf(':');
    const id = separator < 0 ? '' : entry.slice(0, separator);
    const key = separator < 0 ? '' : entry.slice(separator + 1);
    if (!WEBHOOK_KEY_ID_PATTERN.test(id))
      throw new WebhookKeyringError(`entry ${index + 1} is not <key id>:<key> (a key id is 1-64 of A-Z a-z 0-9 . _ -)`);
    if (key.length < MIN_WEBHOOK_KEY_LENGTH)
      throw new WebhookKeyringError(`key ${id} is shorter than ${MIN_WEBHOOK_KEY_LENGTH} characters`);
    if (keyring.some((known) => known.id === id)) throw new WebhookKeyringError(`key id ${id} appears twice`);
    keyring.push({ id, key });
  });
  return keyring;
}

/** The key that signs: the newest, listed first. */
export function signingKeyOf(keyring: WebhookKeyring): WebhookSigningKey {
  const newest = keyring[0];
  if (!newest) throw new WebhookKeyringError('the keyring is empty');
  return newest;
}
