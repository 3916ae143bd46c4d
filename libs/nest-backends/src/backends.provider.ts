import { Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';

import { checkedDatabaseUrlFile, watchSecretFile } from '@rotor/config';
import { BackendRegistry, PostgresBackend, RedisAclBackend, type BackendSettings } from '@rotor/credential-backends';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

/** Files holding rotor's own upstream credentials, re-read when they change (DATABASE_URL_FILE, ROTOR_REDIS_ACL_PASSWORD_FILE). */
export interface BackendCredentialFiles {
  databaseUrl?: string;
  redisAclPassword?: string;
}

/**
 * The credential backends, with a PostgreSQL readiness check and closed connections on
 * shutdown. PostgreSQL's error detail (literals masked) is logged here, never returned.
 * Admin credentials given as files are picked up when the files change, without a restart.
 */
export const backendsProvider = (settings: BackendSettings & { files?: BackendCredentialFiles; databaseInsecure?: boolean }): Provider => ({
  provide: BackendRegistry,
  inject: [ReadinessRegistry, LOGGER],
  useFactory: (readiness: ReadinessRegistry, logger: Logger) => {
    const registry = BackendRegistry.create({
      ...settings,
      onPostgresFailure: (failure) => logger.warn({ postgres: failure }, 'postgres backend operation failed'),
    });
    readiness.register({ name: 'postgres', check: () => (registry.get('postgres') as PostgresBackend).ping() });
    const onError = (error: Error) =>
      logger.warn({ problem: error.message }, 'a changed credential file cannot be used; keeping the previous');
    const { databaseUrl, redisAclPassword } = settings.files ?? {};
    if (databaseUrl) {
      // A new URL is checked as the first was; one accepted with verified TLS cannot be swapped for one without.
      const postgres = registry.get('postgres') as PostgresBackend;
      watchSecretFile({
        variable: 'DATABASE_URL_FILE',
        path: databaseUrl,
        onError,
        onChange: (url) => postgres.useDatabaseUrl(checkedDatabaseUrlFile(url, settings.databaseInsecure ?? false)),
      });
    }
    if (redisAclPassword) {
      const redisAcl = registry.get('redis-acl') as RedisAclBackend;
      watchSecretFile({
        variable: 'ROTOR_REDIS_ACL_PASSWORD_FILE',
        path: redisAclPassword,
        onError,
        onChange: (pw) => redisAcl.usePassword(pw),
      });
    }
    return registry;
  },
});

@Injectable()
export class BackendsShutdown implements OnApplicationShutdown {
  constructor(private readonly registry: BackendRegistry) {}

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
