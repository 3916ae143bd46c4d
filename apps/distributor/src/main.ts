import 'reflect-metadata';

import { bootstrapService } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { loadDistributorConfig } from './config';
import { DistributorModule } from './distributor.module';

async function main(): Promise<void> {
  const config = loadDistributorConfig();
  const logger = createLogger({ service: config.service, level: config.logLevel });
  await bootstrapService({
    module: DistributorModule.forRoot(config, { logger, metrics: new Metrics(config.service) }),
    service: config.service,
    description: 'Delivers managed-secret versions to their targets and records every copy.',
    ...config.http,
    logger,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
