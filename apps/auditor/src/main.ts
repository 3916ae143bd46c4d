import 'reflect-metadata';

import { bootstrapService } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { AuditorModule } from './auditor.module';
import { loadAuditorConfig } from './config';

async function main(): Promise<void> {
  const config = loadAuditorConfig();
  const logger = createLogger({ service: config.service, level: config.logLevel });
  await bootstrapService({
    module: AuditorModule.forRoot(config, { logger, metrics: new Metrics(config.service) }),
    service: config.service,
    description: 'A tamper-evident, hash-chained audit trail of every rotor event, with query views.',
    ...config.http,
    logger,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
