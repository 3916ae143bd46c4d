import { Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';

import { BackendRegistry, PostgresBackend, type BackendSettings } from '@rotor/credential-backends';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

/**
 * The credential backends, with a PostgreSQL readiness check and closed connections on
 * shutdown. PostgreSQL's error detail (literals masked) is logged here, never returned.
 */
export const backendsProvider = (settings: BackendSettings): Provider => ({
  provide: BackendRegistry,
  inject: [ReadinessRegistry, LOGGER],
  useFactory: (readiness: ReadinessRegistry, logger: Logger) => {
    const registry = BackendRegistry.create({
      ...settings,
      onPostgresFailure: (failure) => logger.warn({ postgres: failure }, 'postgres backend operation failed'),
    });
    readiness.register({ name: 'postgres', check: () => (registry.get('postgres') as PostgresBackend).ping() });
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
