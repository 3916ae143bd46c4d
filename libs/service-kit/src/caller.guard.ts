import { createParamDecorator, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

import { DomainError } from '@rotor/errors';
import { hasGroup, type Caller } from '@rotor/identity';
import { Metrics } from '@rotor/telemetry';
import type { TokenVerifier } from '@rotor/token-verification';

export const TOKEN_VERIFIER = Symbol('rotor.token-verifier');

type AuthenticatedRequest = Request & { caller?: Caller };

const bearerToken = (request: Request): string | undefined => {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new DomainError('unauthenticated', 'malformed-authorization', 'the Authorization header must be "Bearer <token>"');
  return match[1];
};

/**
 * Authenticates the bearer token and attaches the caller to the request. Refusals are counted in
 * rotor_authentication_failures_total by reason, the refusal's code (a fixed set, never the token).
 */
@Injectable()
export class CallerGuard implements CanActivate {
  constructor(
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    private readonly metrics: Metrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    try {
      request.caller = await this.verifier.verify(bearerToken(request));
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'unauthenticated') {
        // Looked up at the first refusal, not built in the constructor: OpenAPI shells build guards with stand-ins.
        this.metrics
          .counter('rotor_authentication_failures_total', 'Bearer tokens refused, by reason (the problem code)', ['reason'])
          .inc({ reason: error.code });
      }
      throw error;
    }
    return true;
  }
}

/** The authenticated caller; use on routes guarded by CallerGuard. */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const caller = context.switchToHttp().getRequest<AuthenticatedRequest>().caller;
  if (!caller) throw new DomainError('unauthenticated', 'missing-token', 'a bearer token is required');
  return caller;
});

export const requireGroup = (caller: Caller, group: string): void => {
  if (!hasGroup(caller, group)) throw new DomainError('forbidden', 'missing-group', `this operation needs the ${group} group`);
};
