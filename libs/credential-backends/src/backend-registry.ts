import type { BackendKind } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';

import type { CredentialBackend } from './credential-backend';

/** The backends a service has configured, by kind. */
export class BackendRegistry {
  private readonly backends = new Map<BackendKind, CredentialBackend>();

  constructor(backends: CredentialBackend[]) {
    for (const backend of backends) this.backends.set(backend.kind, backend);
  }

  get(kind: BackendKind): CredentialBackend {
    const backend = this.backends.get(kind);
    if (!backend) throw new DomainError('unavailable', 'backend-not-configured', `the ${kind} backend is not configured here`);
    return backend;
  }
}
