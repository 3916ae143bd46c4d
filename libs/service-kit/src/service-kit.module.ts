import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';

import { Metrics, type Logger } from '@rotor/telemetry';

import { HealthController } from './health.controller';
import { ProblemDetailsFilter } from './problem-details.filter';
import { DependencyGate } from './dependency-gate';
import { ReadinessRegistry } from './readiness';
import { LOGGER, SERVICE_NAME } from './tokens';

export interface ServiceKitOptions {
  service: string;
  logger: Logger;
  metrics: Metrics;
}

/** What every rotor service has: logger, metrics, /healthz, /readyz, /metrics and problem+json errors. */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot({ service, logger, metrics }: ServiceKitOptions): DynamicModule {
    return {
      module: ServiceKitModule,
      controllers: [HealthController],
      providers: [
        { provide: SERVICE_NAME, useValue: service },
        { provide: LOGGER, useValue: logger },
        { provide: Metrics, useValue: metrics },
        ReadinessRegistry,
        DependencyGate,
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
      ],
      exports: [SERVICE_NAME, LOGGER, Metrics, ReadinessRegistry, DependencyGate],
    };
  }
}
