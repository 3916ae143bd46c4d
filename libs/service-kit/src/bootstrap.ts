import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Request, RequestHandler } from 'express';

import type { DynamicModule } from '@nestjs/common';

import type { HttpSettings } from '@rotor/config';
import { createLogger, Metrics, type Logger } from '@rotor/telemetry';
import { setHttpRouteResolver } from '@rotor/tracing';

import { accessLog } from './access-log';
import { certificateExpiryMetric, certificatesOf, type TlsSettings } from './certificate-expiry';
import { httpMetrics, routeTemplate, UNMATCHED_ROUTE } from './http-metrics';
import { splitRoutesByListener } from './listener-routes';
import { withRestContract } from './openapi-contract';
import { ServiceListeners, type ListenerUrls } from './listeners';
import { NestLoggerAdapter } from './nest-logger';

export interface ServiceApp {
  module: Parameters<typeof NestFactory.create>[0];
  service: string;
  description: string;
  logger: Logger;
  /** The registry the module's ServiceKitModule serves at /metrics: the HTTP metrics go there. */
  metrics: Metrics;
  /** Runs before body parsing and every route (the listener split). */
  firstMiddleware?: RequestHandler;
  /** The largest JSON body accepted; 64kb unless a service takes bigger documents (the injector's AdmissionReviews). */
  jsonBodyLimit?: string;
}

export interface ServiceBootstrap extends Omit<ServiceApp, 'firstMiddleware'> {
  http: HttpSettings;
  /** Path prefixes served only on the operator port, when there is one. */
  operatorRoutes: readonly string[];
}

export interface RunningService {
  app: NestExpressApplication;
  urls: ListenerUrls;
}

/** Configures a Nest app the rotor way (body limits, OpenAPI at /docs, shutdown hooks). */
export async function createServiceApp({
  module,
  service,
  description,
  logger,
  metrics,
  firstMiddleware,
  jsonBodyLimit = '64kb',
}: ServiceApp) {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: new NestLoggerAdapter(logger.child({ component: 'nest' })),
    bufferLogs: false,
    bodyParser: false,
  });
  // First of all, so that every answer is counted and logged, whatever refuses the request.
  app.use(httpMetrics(metrics));
  app.use(accessLog(logger));
  // Server spans are named after the route template, as the metrics are labelled.
  setHttpRouteResolver((request) => {
    const route = routeTemplate(request as Request);
    return route === UNMATCHED_ROUTE ? undefined : route;
  });
  if (firstMiddleware) app.use(firstMiddleware);
  app.useBodyParser('json', { limit: jsonBodyLimit, type: ['application/json', 'application/*+json'] });
  app.useBodyParser('urlencoded', { limit: '64kb', extended: false }); // RFC 7662 introspection is form-encoded
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  const document = withRestContract(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder().setTitle(`rotor ${service}`).setDescription(description).setVersion('1').addBearerAuth().build(),
    ),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json' });
  return app;
}

/** Starts a service on its own HTTPS listeners (Nest's built-in server stays unused). */
export async function bootstrapService({ http, operatorRoutes, ...options }: ServiceBootstrap): Promise<RunningService> {
  const listeners = new ServiceListeners(http, options.logger);
  const firstMiddleware =
    http.operatorPort === undefined
      ? undefined
      : splitRoutesByListener({ operatorRoutes, isOperatorPort: (port) => port !== undefined && port === listeners.operatorPort });
  const app = await createServiceApp({ ...options, firstMiddleware });
  closeWithApp(app, listeners);
  await app.init();
  const urls = await listeners.listen(app.getHttpAdapter().getInstance());
  if (http.transport.scheme === 'http') {
    options.logger.warn(
      { urls },
      'INSECURE: plain HTTP (ROTOR_INSECURE_LOCAL=1): bearer tokens and credentials cross the network unencrypted; for a local stack only',
    );
  }
  options.logger.info({ url: urls.workload, ...(urls.operator ? { operatorUrl: urls.operator } : {}) }, `${options.service} listening`);
  return { app, urls };
}

/**
 * Nest closes its HTTP adapter both on app.close() and on a shutdown signal
 * (enableShutdownHooks); our listeners close at that same point, so SIGTERM still drains them.
 */
function closeWithApp(app: NestExpressApplication, listeners: ServiceListeners): void {
  const adapter = app.getHttpAdapter();
  const closeAdapter = adapter.close.bind(adapter) as () => Promise<void>;
  adapter.close = async () => {
    await listeners.close();
    await closeAdapter();
  };
}

export interface ServiceDefinition<C extends { service: string; logLevel: string } & TlsSettings> {
  description: string;
  /** Path prefixes of the operator routes: on ROTOR_OPERATOR_PORT only, when it is set. */
  operatorRoutes: readonly string[];
  /** See ServiceApp.jsonBodyLimit. */
  jsonBodyLimit?: string;
  /** Validates the environment; throws with a message naming each bad variable. */
  loadConfig(): C;
  module(config: C, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule;
}

/** A service's whole `main`: config → telemetry → Nest app → listen; a bad start prints why and exits 1. */
export function runService<C extends { service: string; logLevel: string } & TlsSettings>(definition: ServiceDefinition<C>): void {
  const start = async () => {
    const config = definition.loadConfig();
    const logger = createLogger({ service: config.service, level: config.logLevel });
    const metrics = new Metrics(config.service);
    certificateExpiryMetric(metrics, certificatesOf(config));
    await bootstrapService({
      module: definition.module(config, { logger, metrics }),
      service: config.service,
      description: definition.description,
      http: config.http,
      operatorRoutes: definition.operatorRoutes,
      ...(definition.jsonBodyLimit ? { jsonBodyLimit: definition.jsonBodyLimit } : {}),
      logger,
      metrics,
    });
  };
  // Crash-only start-up: a dependency that accepts a connection and then never answers (a Kafka
  // broker killed during a group join) can hold a start forever, with no listener to say so on
  // /readyz. Past the bound the process exits, and its supervisor starts it again.
  const startupTimeoutMs = startupTimeout(process.env['ROTOR_STARTUP_TIMEOUT_MS']);
  const watchdog = setTimeout(() => {
    console.error(
      `start-up did not finish within ${startupTimeoutMs} ms (ROTOR_STARTUP_TIMEOUT_MS): a dependency accepted a connection but never ` +
        'answered; exiting so that the supervisor starts the service again',
    );
    process.exit(1);
  }, startupTimeoutMs);
  start()
    .then(() => clearTimeout(watchdog))
    .catch((error: unknown) => {
      // Config and catalog errors name what is wrong; print them plainly and stop.
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}

const DEFAULT_STARTUP_TIMEOUT_MS = 90_000;

/** ROTOR_STARTUP_TIMEOUT_MS, in milliseconds (default 90 s); a bad value is named, not ignored. */
export function startupTimeout(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_STARTUP_TIMEOUT_MS;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1_000)
    throw new Error(`ROTOR_STARTUP_TIMEOUT_MS: must be a whole number of milliseconds, at least 1000`);
  return ms;
}
