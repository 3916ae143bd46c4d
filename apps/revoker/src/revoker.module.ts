import { Module, type DynamicModule } from '@nestjs/common';

import { TokenVerifier } from '@rotor/identity';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { BackendsShutdown, backendsProvider } from '@rotor/nest-backends';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import type { RevokerConfig } from './config';
import { LeaseClock } from './leases/lease-clock';
import { LeaseEventsConsumer } from './leases/lease-events.consumer';
import { LeasesController } from './leases/leases.controller';
import { REVOKER_CONFIG } from './platform/tokens';
import { ExpiryWorker } from './revocation/expiry-worker';
import { RevocationService } from './revocation/revocation.service';

@Module({})
export class RevokerModule {
  static forRoot(config: RevokerConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: RevokerModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        RedisModule.forRoot({ url: config.redis.url, connectionName: 'rotor-revoker' }),
      ],
      controllers: [LeasesController],
      providers: [
        { provide: REVOKER_CONFIG, useValue: config },
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        backendsProvider(config.backends),
        BackendsShutdown,
        CallerGuard,
        LeaseClock,
        LeaseEventsConsumer,
        RevocationService,
        ExpiryWorker,
      ],
    };
  }
}
