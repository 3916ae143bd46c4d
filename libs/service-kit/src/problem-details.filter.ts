import { randomUUID } from 'node:crypto';

import { Catch, HttpException, HttpStatus, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';

import { DomainError, isDependencyOutage, type ErrorKind } from '@rotor/errors';
import type { ProblemDetails } from '@rotor/rest-contract';
import type { Logger } from '@rotor/telemetry';

import { LOGGER } from './tokens';

const STATUS: Record<ErrorKind, number> = {
  invalid: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  'not-found': HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  'rate-limited': HttpStatus.TOO_MANY_REQUESTS,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

/** The answer's shape is rest-contract's ProblemDetailsSchema, which the OpenAPI documents carry. */
export type { ProblemDetails };

/**
 * Every error leaves as RFC 7807 application/problem+json. Unexpected errors get an error
 * id that is also logged, and no internals.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const problem = this.toProblem(exception, request);
    if (exception instanceof DomainError && exception.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    } else if (problem.status === 503) {
      response.setHeader('Retry-After', '5');
    }
    response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }

  private toProblem(exception: unknown, request: Request): ProblemDetails {
    const instance = request.path;
    if (exception instanceof DomainError) {
      const status = STATUS[exception.kind];
      return {
        // Extension members first: the standard members below always win.
        ...exception.members,
        type: `https://rotor.dev/problems/${exception.code}`,
        title: titleOf(status),
        status,
        detail: exception.message,
        instance,
        code: exception.code,
        ...(exception.field ? { field: exception.field } : {}),
      };
    }
    const bodyError = bodyParserError(exception);
    if (bodyError) {
      return {
        type: 'about:blank',
        title: titleOf(bodyError.status),
        status: bodyError.status,
        detail: bodyError.detail,
        instance,
        code: codeOf(bodyError.status),
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return {
        type: 'about:blank',
        title: titleOf(status),
        status,
        detail: describeHttpException(exception),
        instance,
        code: codeOf(status),
      };
    }
    const timedOut = timedOutDependency(exception);
    if (timedOut) {
      // A bounded call that did not finish in time (ROTOR_DEPENDENCY_TIMEOUT_MS): the dependency hangs.
      this.logger.warn({ dependency: timedOut, path: instance }, 'dependency call timed out');
      return {
        type: `https://rotor.dev/problems/${timedOut}-unavailable`,
        title: 'Service Unavailable',
        status: 503,
        detail: `${timedOut} did not answer in time; retry later`,
        instance,
        code: `${timedOut}-unavailable`,
      };
    }
    if (isDependencyOutage(exception)) {
      const errorId = randomUUID();
      this.logger.warn({ errorId, err: { name: exception.name, message: exception.message }, path: instance }, 'dependency unavailable');
      return {
        type: 'https://rotor.dev/problems/dependency-unavailable',
        title: 'Service Unavailable',
        status: 503,
        detail: 'a dependency is unavailable; retry later',
        instance,
        code: 'dependency-unavailable',
        errorId,
      };
    }
    const errorId = randomUUID();
    this.logger.error(
      {
        errorId,
        err: exception instanceof Error ? { name: exception.name, message: exception.message, stack: exception.stack } : 'non-error thrown',
        path: instance,
      },
      'unexpected error',
    );
    return {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'an unexpected error occurred; quote the error id when reporting it',
      instance,
      code: 'internal',
      errorId,
    };
  }
}

const titleOf = (status: number): string =>
  ({
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  })[status] ?? 'Error';

const codeOf = (status: number): string =>
  ({
    400: 'bad-request',
    401: 'unauthenticated',
    403: 'forbidden',
    404: 'not-found',
    405: 'method-not-allowed',
    413: 'payload-too-large',
    415: 'unsupported-media-type',
  })[status] ?? `http-${status}`;

/**
 * Nest's own errors (no route, a body that is not JSON, too large) get fixed wording: their
 * messages can quote the request (a JSON parse error quotes the body), which may hold a secret.
 */
const describeHttpException = (exception: HttpException): string =>
  ({
    400: 'the request is malformed (is the body valid JSON?)',
    404: 'there is no such resource',
    405: 'this method is not allowed here',
    413: 'the request body is too large',
    415: 'the request body has an unsupported media type',
  })[exception.getStatus()] ?? 'the request could not be processed';

/** body-parser's errors carry a status and a `type`; their messages may quote the body, so they are replaced. */
const bodyParserError = (exception: unknown): { status: number; detail: string } | undefined => {
  if (typeof exception !== 'object' || exception === null) return undefined;
  switch ((exception as { type?: unknown }).type) {
    case 'entity.parse.failed':
      return { status: 400, detail: 'the request body is not valid JSON' };
    case 'entity.too.large':
      return { status: 413, detail: 'the request body is too large' };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, detail: 'the request body encoding is not supported' };
    default: {
      // Any other client error raised while reading the body (bad Content-Encoding, aborted
      // upload) carries a 4xx status marked safe to expose; its message is not passed on.
      const { status, expose } = exception as { status?: unknown; expose?: unknown };
      return typeof status === 'number' && status >= 400 && status < 500 && expose === true
        ? { status, detail: 'the request body could not be read' }
        : undefined;
    }
  }
};

/**
 * The dependency behind a call that timed out: a bounded Kafka produce (PublishTimeoutError,
 * told by its code so this kit needs no Kafka client) or an ioredis command past its commandTimeout.
 */
const timedOutDependency = (exception: unknown): 'kafka' | 'redis' | undefined => {
  if (!(exception instanceof Error)) return undefined;
  if ((exception as { code?: unknown }).code === 'publish-timeout') return 'kafka';
  if (exception.message === 'Command timed out') return 'redis';
  return undefined;
};
