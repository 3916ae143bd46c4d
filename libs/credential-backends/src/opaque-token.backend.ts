import { randomBytes } from 'node:crypto';

import type { CredentialBackend, HandleOf, IssuedCredential } from './credential-backend';

/**
 * A random 256-bit bearer token. Resource servers check it at the issuer's introspection
 * endpoint, which knows only its keyed hash; ending it is the issuer's business, so
 * revoking has nothing external to do.
 */
export class OpaqueTokenBackend implements CredentialBackend<'opaque-token'> {
  readonly kind = 'opaque-token' as const;

  leaseHandle(): HandleOf<'opaque-token'> {
    return { backend: 'opaque-token' };
  }

  issue(): Promise<IssuedCredential<HandleOf<'opaque-token'>>> {
    return Promise.resolve({ credential: { token: randomBytes(32).toString('base64url') }, handle: this.leaseHandle() });
  }

  async renew(): Promise<void> {}

  async revoke(): Promise<void> {}
}
