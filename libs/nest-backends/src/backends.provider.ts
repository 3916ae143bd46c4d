import { Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';

import { BackendRegistry, PostgresBackend, type BackendSettings } from '@rotor/credential-backends';
import { ReadinessRegistry } from '@rotor/service-kit';

/** The credential backends, with a PostgreSQL readiness check and closed connections on shutdown. */
export const backendsProvider = (settings: BackendSettings): Provider => ({
  provide: BackendRegistry,
  inject: [ReadinessRegistry],
  useFactory: (readiness: ReadinessRegistry) => {
    const registry = BackendRegistry.create(settings);
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
