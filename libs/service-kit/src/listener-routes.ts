import type { Request, RequestHandler, Response } from 'express';

import type { ProblemDetails } from './problem-details.filter';

export interface ListenerRoutes {
  /** Path prefixes served only on the operator listener, e.g. `/v1/break-glass`. */
  operatorRoutes: readonly string[];
  /** Whether a request's socket was accepted by the operator listener. */
  isOperatorPort: (localPort: number | undefined) => boolean;
}

/** Every service's operator-only path, besides its own operator routes. */
const OPERATOR_ONLY = ['/metrics'];
/** Served on the operator listener besides the operator routes: probes and the OpenAPI document. */
const ALSO_ON_OPERATOR = ['/healthz', '/readyz', '/docs'];

/**
 * Splits the routes between the workload and the operator listener (DESIGN §14), so a
 * NetworkPolicy on the operator port is what keeps workloads away from operator routes and
 * /metrics. Installed before every route; a route on the wrong listener is a plain 404 that
 * does not say where it would be served.
 */
export function splitRoutesByListener({ operatorRoutes, isOperatorPort }: ListenerRoutes): RequestHandler {
  const operatorOnly = [...operatorRoutes, ...OPERATOR_ONLY].map((prefix) => prefix.toLowerCase());
  return (request, response, next) => {
    const path = comparablePath(request.path);
    const isOperatorRoute = operatorOnly.some((prefix) => isWithin(path, prefix));
    const served = isOperatorPort(request.socket.localPort)
      ? isOperatorRoute || ALSO_ON_OPERATOR.some((prefix) => isWithin(path, prefix))
      : !isOperatorRoute;
    if (served) next();
    else notFound(request, response);
  };
}

const isWithin = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

// Express routes case-insensitively: `/V1/Break-Glass` reaches the break-glass handler, so it
// must be classified as that route. Percent-decoding errs on the side of "operator route".
const comparablePath = (path: string): string => {
  try {
    return decodeURIComponent(path).toLowerCase();
  } catch {
    return path.toLowerCase();
  }
};

const notFound = (request: Request, response: Response): void => {
  const problem: ProblemDetails = {
    type: 'about:blank',
    title: 'Not Found',
    status: 404,
    detail: 'there is no such resource',
    instance: request.path,
    code: 'not-found',
  };
  response.status(404).type('application/problem+json').send(JSON.stringify(problem));
};
