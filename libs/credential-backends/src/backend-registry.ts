import type { BackendKind } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';

import type { CredentialBackend } from './credential-backend';
import { OpaqueTokenBackend } from './opaque-token.backend';
import { PostgresBackend, type PostgresBackendSettings } from './postgres.backend';
import { RedisAclBackend, type RedisAclBackendSettings } from './redis-acl.backend';

export interface BackendSettings {
  databaseUrl: string;
  redisAclUrl: string;
  redisAclSecurity?: RedisAclBackendSettings['security'];
  /** Where the detail of a PostgreSQL failure goes (the service's log); callers get a generic problem. */
  onPostgresFailure?: PostgresBackendSettings['onFailure'];
}

/** The backends a service has configured, by kind. */
export class BackendRegistry {
  private readonly backends = new Map<BackendKind, CredentialBackend>();

  constructor(backends: CredentialBackend[]) {
    for (const backend of backends) this.backends.set(backend.kind, backend);
  }

  /** Every backend rotor has, connected to the given PostgreSQL and Redis. */
  static create(settings: BackendSettings): BackendRegistry {
    return new BackendRegistry([
      new OpaqueTokenBackend(),
      new PostgresBackend({
        databaseUrl: settings.databaseUrl,
        ...(settings.onPostgresFailure ? { onFailure: settings.onPostgresFailure } : {}),
      }),
      new RedisAclBackend({ url: settings.redisAclUrl, ...(settings.redisAclSecurity ? { security: settings.redisAclSecurity } : {}) }),
    ]);
  }

  get(kind: BackendKind): CredentialBackend {
    const backend = this.backends.get(kind);
    if (!backend) throw new DomainError('unavailable', 'backend-not-configured', `the ${kind} backend is not configured here`);
    return backend;
  }

  /** Every configured backend. */
  all(): CredentialBackend[] {
    return [...this.backends.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((backend) => backend.close?.() ?? Promise.resolve()));
  }
}
