import { RETRY_LATER_STATUSES } from '@rotor/backoff';
import type { ProblemDetails } from '@rotor/rest-contract';

/** An RFC 7807 document as a service sent it: the standard members, and its own (a 409's `breakGlassId`). */
export type ProblemDocument = Partial<ProblemDetails> & Record<string, unknown>;

/**
 * A rotor service answered with an RFC 7807 problem. The message holds the problem's fields
 * only (status, title, detail, code): rotor never puts a secret value there, and this client
 * adds nothing from the request.
 */
export class RotorProblemError extends Error {
  override readonly name = 'RotorProblemError';

  constructor(
    readonly status: number,
    /** The whole document, extension members included; a body that is not a problem is not kept. */
    readonly problem: ProblemDocument,
    /** How long the service asked to wait (Retry-After), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(`${status} ${problem.title ?? 'error'}${problem.detail ? `: ${problem.detail}` : ''}${problem.code ? ` [${problem.code}]` : ''}`);
  }

  get code(): string | undefined {
    return this.problem.code;
  }

  /** Worth asking again later: overloaded, restarting, a dependency down. */
  get transient(): boolean {
    return RETRY_LATER_STATUSES.has(this.status);
  }
}

/** No answer: refused or reset connection, TLS failure, timeout. */
export class RotorUnavailableError extends Error {
  override readonly name = 'RotorUnavailableError';

  constructor(
    message: string,
    /** A refused or reset connection or a timeout may well work next time; an untrusted certificate will not. */
    readonly transient: boolean,
    readonly errorCode?: string,
    /** Where it was going (`https://host:port`), and what failed, for callers that explain it in their own words. */
    readonly origin?: string,
    override readonly cause?: NodeJS.ErrnoException,
    /** The served certificate's expiry, when the TLS handshake got that far (`CERT_HAS_EXPIRED` says when). */
    readonly peerNotAfter?: string,
  ) {
    super(message, { cause });
  }
}

/**
 * A 2xx answer that does not have the documented shape (a version skew, a proxy). The message
 * names the paths and the kinds of mismatch, never the values: the body may hold a credential.
 */
export class RotorAnswerError extends Error {
  override readonly name = 'RotorAnswerError';
}

/** Whether a failure of this client is worth retrying later (the agent's loops ask this). */
export const isTransient = (error: unknown): boolean =>
  (error instanceof RotorProblemError || error instanceof RotorUnavailableError) && error.transient;
