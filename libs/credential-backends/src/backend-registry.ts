import type { BackendKind } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';

import type { CredentialBackend, HandleOf } from './credential-backend';
import { OpaqueTokenBackend } from './opaque-token.backend';
import { PostgresBackend, type PostgresBackendSettings } from './postgres.backend';
import { RedisAclBackend, type RedisAclBackendSettings } from './redis-acl.backend';

/** Each backend's own settings (from config), by kind; kinds without settings have no entry. */
export interface BackendSettings {
  postgres: PostgresBackendSettings;
  'redis-acl': RedisAclBackendSettings;
}

/**
 * Every backend rotor has: one line per kind. The compiler refuses a kind of @rotor/contracts
 * left out, or a backend under another kind's name (docs/extending.md).
 */
export const createBackends = (settings: BackendSettings) =>
  ({
    'opaque-token': new OpaqueTokenBackend(),
    postgres: new PostgresBackend(settings.postgres),
    'redis-acl': new RedisAclBackend(settings['redis-acl']),
  }) satisfies { [K in BackendKind]: CredentialBackend<K> };

/**
 * The backends a service has, by kind. Production services get every backend rotor has
 * (`create`); a test may add kinds of its own: `new BackendRegistry<BackendKind | 'test-echo'>([…])`.
 */
export class BackendRegistry<Kind extends string = BackendKind> {
  private readonly backends = new Map<string, CredentialBackend<Kind>>();

  constructor(backends: CredentialBackend<Kind>[]) {
    for (const backend of backends) this.backends.set(backend.kind, backend);
  }

  /** Every backend rotor has, connected to the given upstreams. */
  static create(settings: BackendSettings): BackendRegistry {
    return new BackendRegistry(Object.values(createBackends(settings)));
  }

  get(kind: Kind): CredentialBackend<Kind> {
    const backend = this.backends.get(kind);
    if (!backend) throw new DomainError('unavailable', 'backend-not-configured', `the ${kind} backend is not configured here`);
    return backend;
  }

  /** The backend of a class, with what only that kind has (the postgres backend's useDatabaseUrl…). */
  find<B extends CredentialBackend<Kind>>(type: abstract new (...args: never[]) => B): B | undefined {
    for (const backend of this.backends.values()) if (backend instanceof type) return backend;
    return undefined;
  }

  /** The handle the backend of `kind` mints for a lease id (see CredentialBackend.leaseHandle). */
  leaseHandle(kind: Kind, leaseId: string): HandleOf<Kind> {
    return this.get(kind).leaseHandle(leaseId);
  }

  /** A readiness check for each backend that can be pinged, named by its kind (the name the dependency gate asks for). */
  readinessChecks(): { name: Kind; check: () => Promise<void> }[] {
    return this.all().flatMap((backend) => (backend.ping ? [{ name: backend.kind, check: backend.ping.bind(backend) }] : []));
  }

  /** The dependencies a lease of `kind` needs up, beyond Kafka and Redis: its backend, when it has a readiness check. */
  dependenciesOf(kind: Kind): Kind[] {
    return this.get(kind).ping ? [kind] : [];
  }

  /** Every configured backend. */
  all(): CredentialBackend<Kind>[] {
    return [...this.backends.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((backend) => backend.close?.() ?? Promise.resolve()));
  }
}
