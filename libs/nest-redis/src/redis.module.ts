import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { createRedis, pingRedis, type Redis, type RedisLinkSecurity } from '@rotor/redis-store';
import { DEPENDENCY_TIMEOUT_MS, LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

export const REDIS = Symbol('rotor.redis');

@Injectable()
class RedisLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    readiness: ReadinessRegistry,
  ) {
    readiness.register({ name: 'redis', check: () => pingRedis(this.redis) });
  }

  async onModuleInit(): Promise<void> {
    await connectOnce(this.redis);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * Connects a lazy client at boot, or waits for the connection already under way: a command sent
 * before this runs (the dependency gate's first readiness probe, 500 ms after its own init, while
 * slower modules still initialise) makes ioredis connect by itself, and connect() would then
 * throw "Redis is already connecting/connected" and stop the service.
 */
export async function connectOnce(redis: Redis): Promise<void> {
  if (redis.status === 'wait') return redis.connect();
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    // As connect() would: ready, or the first failure of this attempt.
    const settle = (error?: Error) => {
      redis.off('ready', onReady).off('error', onError).off('end', onEnd);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => settle();
    const onError = (error: Error) => settle(error);
    const onEnd = () => settle(new Error('Connection is closed.'));
    redis.once('ready', onReady).once('error', onError).once('end', onEnd);
  });
}

/** The service's Redis connection, with its readiness check. */
@Global()
@Module({})
export class RedisModule {
  static forRoot({
    url,
    clusterNodes,
    connectionName,
    security,
  }: {
    url: string;
    /** REDIS_CLUSTER_NODES: a Redis Cluster client on these seeds instead of one server. */
    clusterNodes?: readonly string[];
    connectionName: string;
    security?: RedisLinkSecurity & { insecure?: boolean };
  }): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS,
          inject: [LOGGER, DEPENDENCY_TIMEOUT_MS],
          useFactory: (logger: Logger, commandTimeoutMs: number) => {
            let lastLogged = 0;
            if (security?.insecure)
              logger.warn(
                { component: 'redis' },
                'INSECURE: Redis link without TLS or authentication (ROTOR_INSECURE_LOCAL=1); never run this way outside a laptop',
              );
            return createRedis(url, {
              clusterNodes,
              connectionName,
              onError: (error) => {
                if (Date.now() - lastLogged < 5_000) return; // one line per outage burst, not one per retry
                lastLogged = Date.now();
                logger.warn({ component: 'redis', err: error.message }, 'redis connection error');
              },
              security,
              commandTimeoutMs,
            });
          },
        },
        RedisLifecycle,
      ],
      exports: [REDIS],
    };
  }
}
