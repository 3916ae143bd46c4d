import { Global, Module, type DynamicModule } from '@nestjs/common';

import { GsmSecretStore, type GsmSettings } from '@rotor/secret-store';
import { ReadinessRegistry } from '@rotor/service-kit';

/** The service's GSM client, with its readiness check. */
@Global()
@Module({})
export class GsmModule {
  static forRoot(settings: GsmSettings): DynamicModule {
    return {
      module: GsmModule,
      providers: [
        {
          provide: GsmSecretStore,
          inject: [ReadinessRegistry],
          useFactory: (readiness: ReadinessRegistry) => {
            const store = new GsmSecretStore(settings);
            readiness.register({ name: 'gsm', check: () => store.ping() });
            return store;
          },
        },
      ],
      exports: [GsmSecretStore],
    };
  }
}
