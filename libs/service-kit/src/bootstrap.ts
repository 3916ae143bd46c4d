import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import type { DynamicModule } from '@nestjs/common';

import { createLogger, Metrics, type Logger } from '@rotor/telemetry';

import { NestLoggerAdapter } from './nest-logger';

export interface ServiceBootstrap {
  module: Parameters<typeof NestFactory.create>[0];
  service: string;
  description: string;
  host: string;
  port: number;
  logger: Logger;
}

/** Configures a Nest app the rotor way (body limits, OpenAPI at /docs, shutdown hooks). */
export async function createServiceApp({ module, service, description, logger }: Omit<ServiceBootstrap, 'host' | 'port'>) {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: new NestLoggerAdapter(logger.child({ component: 'nest' })),
    bufferLogs: false,
    bodyParser: false,
  });
  app.useBodyParser('json', { limit: '64kb', type: ['application/json', 'application/*+json'] });
  app.useBodyParser('urlencoded', { limit: '64kb', extended: false }); // RFC 7662 introspection is form-encoded
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle(`rotor ${service}`).setDescription(description).setVersion('1').addBearerAuth().build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json' });
  return app;
}

export async function bootstrapService(options: ServiceBootstrap): Promise<void> {
  const app = await createServiceApp(options);
  await app.listen(options.port, options.host);
  options.logger.info({ url: `http://${options.host}:${options.port}` }, `${options.service} listening`);
}

export interface ServiceDefinition<C extends { service: string; logLevel: string; http: { host: string; port: number } }> {
  description: string;
  /** Validates the environment; throws with a message naming each bad variable. */
  loadConfig(): C;
  module(config: C, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule;
}

/** A service's whole `main`: config → telemetry → Nest app → listen; a bad start prints why and exits 1. */
export function runService<C extends { service: string; logLevel: string; http: { host: string; port: number } }>(definition: ServiceDefinition<C>): void {
  const start = async () => {
    const config = definition.loadConfig();
    const logger = createLogger({ service: config.service, level: config.logLevel });
    await bootstrapService({
      module: definition.module(config, { logger, metrics: new Metrics(config.service) }),
      service: config.service,
      description: definition.description,
      ...config.http,
      logger,
    });
  };
  start().catch((error: unknown) => {
    // Config and catalog errors name what is wrong; print them plainly and stop.
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
