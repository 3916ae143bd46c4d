import { Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';

import { checkedDatabaseUrlFile, watchSecretFile } from '@rotor/config';
import { BackendRegistry, PostgresBackend, RedisAclBackend, type RedisAclBackendSettings } from '@rotor/credential-backends';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

/** Files holding rotor's own upstream credentials, re-read when they change (DATABASE_URL_FILE, ROTOR_REDIS_ACL_PASSWORD_FILE). */
export interface BackendCredentialFiles {
  databaseUrl?: string;
  redisAclPassword?: string;
}

/** Where the backends connect, as config gives it (backendSettings in @rotor/config). */
export interface BackendUpstreams {
  databaseUrl: string;
  databaseInsecure?: boolean;
  redisAclUrl: string;
  redisAclSecurity?: RedisAclBackendSettings['security'];
  files?: BackendCredentialFiles;
  /** Bounds every backend call, PostgreSQL statement or Redis ACL command (the issuer's request paths: fail fast). */
  callTimeoutMs?: number;
}

/**
 * The credential backends, with a readiness check for each that can be pinged and closed connections on
 * shutdown. PostgreSQL's error detail (literals masked) is logged here, never returned.
 * Admin credentials given as files are picked up when the files change, without a restart.
 */
export const backendsProvider = (settings: BackendUpstreams): Provider => ({
  provide: BackendRegistry,
  inject: [ReadinessRegistry, LOGGER],
  useFactory: (readiness: ReadinessRegistry, logger: Logger) => {
    const registry = BackendRegistry.create({
      postgres: {
        databaseUrl: settings.databaseUrl,
        onFailure: (failure) => logger.warn({ postgres: failure }, 'postgres backend operation failed'),
        ...(settings.callTimeoutMs ? { queryTimeoutMs: settings.callTimeoutMs } : {}),
      },
      'redis-acl': {
        url: settings.redisAclUrl,
        ...(settings.redisAclSecurity ? { security: settings.redisAclSecurity } : {}),
        ...(settings.callTimeoutMs ? { commandTimeoutMs: settings.callTimeoutMs } : {}),
      },
    });
    // Named by kind: the dependency gate asks for a lease's backend by its kind.
    for (const check of registry.readinessChecks()) readiness.register(check);
    const onError = (error: Error) =>
      logger.warn({ problem: error.message }, 'a changed credential file cannot be used; keeping the previous');
    const { databaseUrl, redisAclPassword } = settings.files ?? {};
    if (databaseUrl) {
      // A new URL is checked as the first was; one accepted with verified TLS cannot be swapped for one without.
      const postgres = registry.find(PostgresBackend);
      watchSecretFile({
        variable: 'DATABASE_URL_FILE',
        path: databaseUrl,
        onError,
        onChange: (url) => postgres?.useDatabaseUrl(checkedDatabaseUrlFile(url, settings.databaseInsecure ?? false)),
      });
    }
    if (redisAclPassword) {
      const redisAcl = registry.find(RedisAclBackend);
      watchSecretFile({
        variable: 'ROTOR_REDIS_ACL_PASSWORD_FILE',
        path: redisAclPassword,
        onError,
        onChange: (pw) => redisAcl?.usePassword(pw),
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
