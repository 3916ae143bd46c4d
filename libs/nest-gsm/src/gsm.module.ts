import { Global, Module, type DynamicModule } from '@nestjs/common';

import { REDIS } from '@rotor/nest-redis';
import { SharedRateLimiter, type Redis } from '@rotor/redis-store';
import { GsmSecretStore, gsmClient, RateLimiter, type GsmSettings, type PacerFactory } from '@rotor/secret-store';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

/**
 * GSM quotas are per project, so every replica of every service paces its calls through
 * buckets in the shared Redis (`rotor:quota:gsm:<project>:…`); while Redis cannot answer, each
 * process paces itself.
 */
export const sharedGsmPacers = (redis: Redis, project: string, logger?: Logger): PacerFactory => {
  let warned = 0;
  return (quota, ratePerMinute, burst) =>
    new SharedRateLimiter(redis, {
      key: `rotor:quota:gsm:${project}:${quota}`,
      ratePerMinute,
      burst,
      fallback: new RateLimiter(ratePerMinute, burst),
      onRedisError: (error) => {
        if (Date.now() - warned < 60_000) return;
        warned = Date.now();
        logger?.warn(
          { quota, err: error instanceof Error ? error.message : 'unknown error' },
          'GSM pacing falls back to this process alone: Redis did not answer',
        );
      },
    });
};

/** The service's GSM client, paced by the shared GSM quota, with its readiness check and call metrics. */
@Global()
@Module({})
export class GsmModule {
  static forRoot(settings: GsmSettings): DynamicModule {
    return {
      module: GsmModule,
      providers: [
        {
          provide: GsmSecretStore,
          inject: [ReadinessRegistry, REDIS, LOGGER, Metrics],
          useFactory: (readiness: ReadinessRegistry, redis: Redis, logger: Logger, metrics: Metrics) => {
            const store = new GsmSecretStore(settings, sharedGsmPacers(redis, settings.project, logger), gsmClient, metrics);
            readiness.register({ name: 'gsm', check: () => store.ping() });
            return store;
          },
        },
      ],
      exports: [GsmSecretStore],
    };
  }
}
