import type { IncomingMessage } from 'node:http';

import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

import { redisStatement, sqlVerb } from './safe-attributes';
import { NoRootClientSpans, samplerFromEnv } from './sampler';
import { ScrubbingSpanProcessor } from './scrubbing-span-processor';

export interface TracingOptions {
  /** rotor's name for the service (`issuer`); the resource's service.name is `rotor-<service>` unless OTEL_SERVICE_NAME says otherwise. */
  service: string;
  env?: NodeJS.ProcessEnv;
  /** Where spans go instead of OTLP (tests). */
  exporter?: SpanExporter;
}

/** Paths no trace is started for: probes and scrapes would drown the traces people look for. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/livez', '/metrics']);

let provider: TracerProvider | undefined;
let routeOf: (request: IncomingMessage) => string | undefined = () => undefined;

/**
 * Starts the OpenTelemetry trace SDK for this process, configured by the standard OTEL_*
 * variables. Call it before anything loads http, ioredis, pg or gRPC: the instrumentations
 * patch those modules as they are required (each app's `tracing.ts`, imported first by main.ts).
 *
 * Off, with the API's no-op tracer left in place, when OTEL_SDK_DISABLED=true,
 * OTEL_TRACES_EXPORTER=none, or no OTLP endpoint is configured (a service must not send spans
 * to a default address nobody listens on). Returns whether tracing is on.
 */
export function startTracing({ service, env = process.env, exporter }: TracingOptions): boolean {
  if (provider) return true;
  const endpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  if (!exporter && ((env['OTEL_TRACES_EXPORTER'] ?? 'otlp').trim().toLowerCase() === 'none' || !endpoint)) return false;
  diag.setLogger(stderrDiag, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });

  const resource = resourceFromAttributes({
    'service.name': `rotor-${service}`,
    'service.namespace': 'rotor',
    'service.instance.id': `${service}-${process.pid}`,
  }).merge(detectResources({ detectors: [envDetector] }));
  provider = new TracerProvider({
    resource,
    sampler: new NoRootClientSpans(samplerFromEnv(env)),
    spanProcessors: [new ScrubbingSpanProcessor(new BatchSpanProcessor({ exporter: exporter ?? new OTLPTraceExporter() }))],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?', 1)[0] ?? ''),
        // Outgoing calls without a parent are background polls (JWKS refresh, kube lists): no trace of their own.
        requireParentforOutgoingSpans: true,
        // The route template, once the framework matched one: `GET /v1/leases/:id`, never the raw path.
        applyCustomAttributesOnSpan: (span, request) => {
          if (!('socket' in request) || !(request as IncomingMessage).headers) return;
          const route = routeOf(request as IncomingMessage);
          if (!route) return;
          span.setAttribute('http.route', route);
          span.updateName(`${(request as IncomingMessage).method ?? 'HTTP'} ${route}`);
        },
      }),
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => redisStatement(command) }),
      new PgInstrumentation({
        requireParentSpan: true,
        enhancedDatabaseReporting: false,
        requestHook: (span, { query }) => span.setAttribute('db.statement', sqlVerb(query.text)),
      }),
      new GrpcInstrumentation(),
    ],
  });
  return true;
}

/** How the HTTP framework names the route a request matched (service-kit sets it: Express's route template). */
export function setHttpRouteResolver(resolver: (request: IncomingMessage) => string | undefined): void {
  routeOf = resolver;
}

/** Sends the spans still buffered and stops; a service calls it last on shutdown. */
export async function shutdownTracing(): Promise<void> {
  const running = provider;
  provider = undefined;
  await running?.shutdown().catch(() => undefined);
}

/** The SDK's own warnings (an export that failed) as single JSON lines on stderr, never with span contents. */
const stderrDiag: DiagLogger = {
  error: (message) => process.stderr.write(`${JSON.stringify({ level: 'error', component: 'otel', msg: message })}\n`),
  warn: (message) => process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'otel', msg: message })}\n`),
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};
