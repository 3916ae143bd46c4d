import './tracing';
import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadInjectorConfig } from './config';
import { InjectorModule } from './injector.module';

runService({
  description: 'Mutating admission webhook: gives pods annotated rotor.dev/inject the rotor agent and their credential files.',
  operatorRoutes: [],
  // An AdmissionReview carries the whole pod (managedFields included): far above the 64 kB of the REST APIs.
  jsonBodyLimit: '3mb',
  loadConfig: loadInjectorConfig,
  module: (config, telemetry) => InjectorModule.forRoot(config, telemetry),
});
