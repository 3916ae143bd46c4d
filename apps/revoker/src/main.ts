import 'reflect-metadata';

import { bootstrapService } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { loadRevokerConfig } from './config';
import { RevokerModule } from './revoker.module';

async function main(): Promise<void> {
  const config = loadRevokerConfig();
  const logger = createLogger({ service: config.service, level: config.logLevel });
  await bootstrapService({
    module: RevokerModule.forRoot(config, { logger, metrics: new Metrics(config.service) }),
    service: config.service,
    description: 'Revokes leases when their TTL runs out, on request, and in emergency rotations.',
    ...config.http,
    logger,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
