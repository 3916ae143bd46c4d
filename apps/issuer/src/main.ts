import 'reflect-metadata';

import { bootstrapService } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { loadIssuerConfig } from './config';
import { IssuerModule } from './issuer.module';

async function main(): Promise<void> {
  const config = loadIssuerConfig();
  const logger = createLogger({ service: config.service, level: config.logLevel });
  await bootstrapService({
    module: IssuerModule.forRoot(config, { logger, metrics: new Metrics(config.service) }),
    service: config.service,
    description: 'Issues short-lived credentials bound to one workload identity, and new versions of managed secrets.',
    ...config.http,
    logger,
  });
}

main().catch((error: unknown) => {
  // Config and catalog errors name what is wrong; print them plainly and stop.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
