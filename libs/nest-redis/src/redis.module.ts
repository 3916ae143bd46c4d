import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { createRedis, pingRedis, type Redis } from '@rotor/redis-store';
import { ReadinessRegistry } from '@rotor/service-kit';

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
    await this.redis.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** The service's Redis connection, with its readiness check. */
@Global()
@Module({})
export class RedisModule {
  static forRoot({ url, connectionName }: { url: string; connectionName: string }): DynamicModule {
    return {
      module: RedisModule,
      providers: [{ provide: REDIS, useFactory: () => createRedis(url, connectionName) }, RedisLifecycle],
      exports: [REDIS],
    };
  }
}
