import type { Request, RequestHandler } from 'express';

import { traceExemplar, type Metrics } from '@rotor/telemetry';

/** The `route` label of a request no route matched (a 404, or a body refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * RED metrics for every HTTP request: rate and errors in rotor_http_requests_total, duration in
 * rotor_http_request_duration_seconds (with the request's trace as exemplar). The `route` label is the route template (`/v1/leases/:id`)
 * Express matched, never the raw path: ids and tokens in a path must not become label values.
 * Installed as the first middleware, so guard refusals, problem answers and 404s are counted too.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  const requests = metrics.counter('rotor_http_requests_total', 'HTTP requests answered, by method, route template and status', [
    'method',
    'route',
    'status',
  ]);
  const duration = metrics.latencyHistogram('rotor_http_request_duration_seconds', 'HTTP request duration, by method and route template', [
    'method',
    'route',
  ]);
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    // The server span is active here; 'finish' may run outside it.
    const exemplar = traceExemplar();
    response.once('finish', () => {
      const labels = { method: request.method, route: routeTemplate(request) };
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9, exemplar);
      requests.inc({ ...labels, status: String(response.statusCode) });
    });
    next();
  };
}

/** Express sets req.route once a route matched; Nest registers its routes on the app with their full path. */
export function routeTemplate(request: Request): string {
  const path = (request.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${request.baseUrl}${path}` : UNMATCHED_ROUTE;
}
