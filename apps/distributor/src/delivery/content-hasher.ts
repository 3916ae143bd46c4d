import { createHmac, timingSafeEqual } from 'node:crypto';

import type { Keyring, KeyringKey } from '@rotor/config';

const hmac = (key: KeyringKey, value: Buffer) => createHmac('sha256', key.secret).update(value).digest('hex');
const BARE = /^[0-9a-f]{64}$/;

/** The parts of a recorded content hash: `<keyId>:<hex>`, or a bare hex digest recorded before hashes named their key. */
export function parseContentHash(recorded: string): { keyId?: string; digest: string } {
  const colon = recorded.lastIndexOf(':');
  return colon < 0 ? { digest: recorded } : { keyId: recorded.slice(0, colon), digest: recorded.slice(colon + 1) };
}

/** delivery.completed's fields for a recorded hash: the digest, and the id of the key that made it. */
export function contentHashFields(recorded: string): { contentHash: string; contentHashKeyId?: string } {
  const { keyId, digest } = parseContentHash(recorded);
  return keyId === undefined ? { contentHash: digest } : { contentHash: digest, contentHashKeyId: keyId };
}

const sameDigest = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Keyed hashes of delivered content (ROTOR_CONTENT_HASH_KEY(S)): a hash never lets anyone test
 * guesses of a value, and each names its key, so the key can be rotated with no downtime.
 */
export class ContentHasher {
  constructor(private readonly keys: Keyring) {}

  /** `<keyId>:<hex>` under the newest key: what is recorded for a new copy. */
  hash(value: Buffer): string {
    const key = this.keys.current();
    return `${key.id}:${hmac(key, value)}`;
  }

  /**
   * The hash of `value` in the form of `recorded`, under the key that made it while that key is
   * still listed, so an unchanged copy compares equal across a rotation. A bare legacy digest is
   * matched against every live key. When no live key made `recorded`, the newest key's hash
   * (which then differs: content rotor can no longer vouch for).
   */
  hashLike(value: Buffer, recorded: string | undefined): string {
    if (recorded === undefined) return this.hash(value);
    const { keyId, digest } = parseContentHash(recorded);
    if (keyId !== undefined) {
      const key = this.keys.find(keyId);
      return key ? `${key.id}:${hmac(key, value)}` : this.hash(value);
    }
    if (BARE.test(digest)) {
      for (const key of this.keys.live()) {
        const candidate = hmac(key, value);
        if (sameDigest(candidate, digest)) return candidate;
      }
    }
    return this.hash(value);
  }
}
