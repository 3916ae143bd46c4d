import './tracing';
import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadAuditorConfig } from './config';
import { AuditorModule } from './auditor.module';

runService({
  description: 'A tamper-evident, hash-chained audit trail of every rotor event, with query views.',
  operatorRoutes: ['/v1/audit', '/v1/inventory', '/v1/reports'],
  loadConfig: loadAuditorConfig,
  module: (config, telemetry) => AuditorModule.forRoot(config, telemetry),
});
