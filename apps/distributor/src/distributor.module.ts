import { Module, type DynamicModule } from '@nestjs/common';

import { TokenVerifier } from '@rotor/identity';
import { GsmModule } from '@rotor/nest-gsm';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import type { DistributorConfig } from './config';
import { DeliveriesController } from './deliveries/deliveries.controller';
import { DeliveryLedger } from './deliveries/delivery-ledger';

@Module({})
export class DistributorModule {
  static forRoot(config: DistributorConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: DistributorModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        GsmModule.forRoot(config.gsm),
        RedisModule.forRoot({ url: config.redis.url, connectionName: 'rotor-distributor' }),
      ],
      controllers: [DeliveriesController],
      providers: [
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        CallerGuard,
        DeliveryLedger,
      ],
    };
  }
}
