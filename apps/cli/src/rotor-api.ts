import {
  AuditorClient,
  DistributorClient,
  HttpTransport,
  IssuerClient,
  RevokerClient,
  RotorProblemError,
  RotorUnavailableError,
  TIMEOUT_CODE,
} from '@rotor/client';

import { clientTlsOptions, describeConnectionFailure } from './client-tls';
import type { CliContext } from './context';
import { ApiError, UnavailableError } from './exit-codes';

/** How long one exchange may take, and how often an idempotent one is tried: `--timeout`, `--retries`. */
export interface RequestPolicy {
  timeoutMs: number;
  attempts: number;
}

const policy: RequestPolicy = { timeoutMs: 30_000, attempts: 3 };

/** Set once from the global flags, before any command runs. */
export function configureRequests(next: Partial<RequestPolicy>): void {
  Object.assign(policy, next);
}

/**
 * How the CLI reaches a service (or an OpenID Provider) through @rotor/client: `--timeout` per
 * attempt, `--retries` attempts for a call safe to repeat (0.5 s, 1 s, … 4 s apart unless
 * Retry-After says), ROTOR_CA_FILE and the client certificate read for each HTTPS attempt.
 */
export function transportTo(url: string, token?: string, env: NodeJS.ProcessEnv = process.env): HttpTransport {
  return new HttpTransport({
    url,
    ...(token !== undefined ? { token: () => token } : {}),
    tls: () => clientTlsOptions(env),
    timeoutMs: policy.timeoutMs,
    attempts: policy.attempts,
    backoff: { initialMs: 500, maxMs: 4_000 },
  });
}

export const issuerApi = (context: CliContext, token: string) => new IssuerClient(transportTo(context.urls.issuer, token));
export const revokerApi = (context: CliContext, token: string) => new RevokerClient(transportTo(context.urls.revoker, token));
export const distributorApi = (context: CliContext, token: string) => new DistributorClient(transportTo(context.urls.distributor, token));
/** No token: the public routes (`audit keys`). */
export const auditorApi = (context: CliContext, token?: string) => new AuditorClient(transportTo(context.urls.auditor, token));

/**
 * A failure of @rotor/client as the CLI says it: a problem as `status title: detail [code]`
 * (its exit code from the status), no answer in words that name the fix (ROTOR_CA_FILE, the
 * client certificate, --timeout). Anything else is returned as it is.
 */
export function cliError(error: unknown): unknown {
  if (error instanceof RotorProblemError) return new ApiError(error.status, error.problem);
  if (error instanceof RotorUnavailableError && error.origin && error.cause) {
    const message =
      error.errorCode === TIMEOUT_CODE
        ? `cannot reach ${error.origin}: ${error.cause.message} (--timeout)`
        : describeConnectionFailure(error.origin, error.cause, error.peerNotAfter);
    return new UnavailableError(message, error.transient);
  }
  return error;
}

/** The message of a failure, as `cliError` words it. */
export const cliMessage = (error: unknown): string => {
  const said = cliError(error);
  return said instanceof Error ? said.message : String(said);
};
