import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';

import { Metrics, type Logger } from '@rotor/telemetry';

import { HealthController } from './health.controller';
import { ProblemDetailsFilter } from './problem-details.filter';
import { DependencyGate } from './dependency-gate';
import { ReadinessRegistry } from './readiness';
import { TraceFlush } from './trace-flush';
import { DEFAULT_DEPENDENCY_TIMEOUT_MS, DEPENDENCY_TIMEOUT_MS, LOGGER, SERVICE_NAME } from './tokens';

export interface ServiceKitOptions {
  service: string;
  logger: Logger;
  metrics: Metrics;
  /** ROTOR_DEPENDENCY_TIMEOUT_MS: fail fast on a dependency that hangs (DependencyGate, Redis commands). */
  dependencyTimeoutMs?: number;
}

/** What every rotor service has: logger, metrics, /healthz, /readyz, /metrics and problem+json errors. */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot({ service, logger, metrics, dependencyTimeoutMs }: ServiceKitOptions): DynamicModule {
    return {
      module: ServiceKitModule,
      controllers: [HealthController],
      providers: [
        { provide: SERVICE_NAME, useValue: service },
        { provide: LOGGER, useValue: logger },
        { provide: Metrics, useValue: metrics },
        { provide: DEPENDENCY_TIMEOUT_MS, useValue: dependencyTimeoutMs ?? DEFAULT_DEPENDENCY_TIMEOUT_MS },
        ReadinessRegistry,
        DependencyGate,
        TraceFlush,
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
      ],
      exports: [SERVICE_NAME, LOGGER, Metrics, DEPENDENCY_TIMEOUT_MS, ReadinessRegistry, DependencyGate],
    };
  }
}
