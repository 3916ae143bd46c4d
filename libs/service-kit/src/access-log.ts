import type { Request, RequestHandler, Response } from 'express';
import type { LevelWithSilent } from 'pino';
import { pinoHttp } from 'pino-http';

import type { Caller } from '@rotor/identity';
import type { Logger } from '@rotor/telemetry';

import { routeTemplate } from './http-metrics';

/** Probes and scrapes come every few seconds from every kubelet and Prometheus: debug only, whatever the answer. */
const PROBE_LEVEL = new Map<string, LevelWithSilent>(['/healthz', '/readyz', '/metrics'].map((route) => [route, 'debug']));

/** What an access line says about a request: nothing from headers, query strings or bodies. */
export interface AccessLogFields {
  method: string;
  /** The route template (`/v1/leases/:id`), never the raw path. */
  route: string;
  status: number;
  durationMs: number;
  /** Who CallerGuard authenticated; `anonymous` before (or without) it. */
  caller: Caller['kind'] | 'anonymous';
}

/**
 * One line per HTTP request through pino-http, once the answer is sent: method, route
 * template, status, duration and caller kind, plus the trace ids every rotor log line carries.
 * Lines are built field by field, never from pino-http's request serializer, which writes all
 * headers (Authorization, cookies) and the URL with its query string.
 */
export function accessLog(logger: Logger): RequestHandler {
  const http = logger.child({ component: 'http' });
  // pino-http binds each raw request object to a per-request child logger. These lines carry
  // only the fields built below, so every request shares this one logger, and the request
  // object is never walked by the redaction of child bindings.
  http.child = (() => http) as unknown as Logger['child']; // generic over custom levels, which rotor has none of
  const middleware = pinoHttp<Request, Response>({
    logger: http,
    wrapSerializers: false,
    customLogLevel: level,
    customSuccessObject: (request, response, { responseTime }: { responseTime: number }) => fields(request, response, responseTime),
    customErrorObject: (request, response, _error, { responseTime }: { responseTime: number }) => fields(request, response, responseTime),
    customErrorMessage: () => 'request failed',
  });
  return (request, response, next) => middleware(request, response, next);
}

/** A server fault is an error; a refused or malformed request is the client's, a warning at most. */
const LEVEL_BY_STATUS_CLASS: Partial<Record<number, LevelWithSilent>> = { 4: 'warn', 5: 'error' };

function level(request: Request, response: Response): LevelWithSilent {
  return PROBE_LEVEL.get(routeTemplate(request)) ?? LEVEL_BY_STATUS_CLASS[Math.floor(response.statusCode / 100)] ?? 'info';
}

function fields(request: Request & { caller?: Caller }, response: Response, durationMs: number): AccessLogFields {
  return {
    method: request.method,
    route: routeTemplate(request),
    status: response.statusCode,
    durationMs,
    caller: request.caller?.kind ?? 'anonymous',
  };
}
