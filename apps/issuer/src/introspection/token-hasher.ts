import { createHmac } from 'node:crypto';

import type { Keyring, KeyringKey } from '@rotor/config';

const hmac = (key: KeyringKey, token: string) => createHmac('sha256', key.secret).update(token).digest('hex');

/**
 * Keyed hash of a bearer token: what the issuer stores instead of the token. A stored hash
 * names its key (`<keyId>:<hex>`), so ROTOR_TOKEN_HASH_KEY(S) can be rotated with no downtime:
 * new hashes use the newest key, and a token is looked up under every key still listed.
 */
export class TokenHasher {
  constructor(private readonly keys: Keyring) {}

  /** The hash to store for a new token, under the newest key. */
  hash(token: string): string {
    const key = this.keys.current();
    return `${key.id}:${hmac(key, token)}`;
  }

  /**
   * Every form a stored hash of `token` can take, newest key first: `<keyId>:<hex>` under each
   * live key, and the bare hex stored before hashes named their key (the upgrade path).
   */
  candidates(token: string): string[] {
    const live = this.keys.live().map((key) => ({ id: key.id, hex: hmac(key, token) }));
    return [...live.map(({ id, hex }) => `${id}:${hex}`), ...live.map(({ hex }) => hex)];
  }
}
