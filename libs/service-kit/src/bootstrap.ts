import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import type { Logger } from '@rotor/telemetry';

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
