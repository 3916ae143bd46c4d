import './tracing';
import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadDistributorConfig } from './config';
import { DistributorModule } from './distributor.module';

runService({
  description: 'Delivers managed-secret versions to their targets and records every copy.',
  operatorRoutes: ['/v1/deliveries', '/v1/reconcile', '/v1/copy-scan'],
  loadConfig: loadDistributorConfig,
  module: (config, telemetry) => DistributorModule.forRoot(config, telemetry),
});
