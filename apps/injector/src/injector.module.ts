import { Module, type DynamicModule } from '@nestjs/common';

import { ServiceKitModule } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import type { InjectorConfig } from './config';
import { AGENT_SETTINGS, MutateController } from './mutate.controller';

@Module({})
export class InjectorModule {
  static forRoot(config: InjectorConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: InjectorModule,
      imports: [ServiceKitModule.forRoot({ service: config.service, ...telemetry })],
      controllers: [MutateController],
      providers: [{ provide: AGENT_SETTINGS, useValue: config.agent }],
    };
  }
}
