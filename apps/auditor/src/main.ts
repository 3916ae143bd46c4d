import 'reflect-metadata';

import { runService } from '@rotor/service-kit';

import { loadAuditorConfig } from './config';
import { AuditorModule } from './auditor.module';

runService({
  description: 'A tamper-evident, hash-chained audit trail of every rotor event, with query views.',
  loadConfig: loadAuditorConfig,
  module: (config, telemetry) => AuditorModule.forRoot(config, telemetry),
});
