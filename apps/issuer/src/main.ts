import './tracing';
import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadIssuerConfig } from './config';
import { IssuerModule } from './issuer.module';

runService({
  description: 'Issues short-lived credentials bound to one workload identity, and new versions of managed secrets.',
  operatorRoutes: ['/v1/break-glass'],
  loadConfig: loadIssuerConfig,
  module: (config, telemetry) => IssuerModule.forRoot(config, telemetry),
});
