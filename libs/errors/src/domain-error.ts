/**
 * What went wrong, in terms a caller can act on. HTTP status and problem+json are chosen
 * from the kind at the edge (service-kit), so domain code never throws HTTP errors.
 */
export type ErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not-found' | 'conflict' | 'rate-limited' | 'unavailable';

export interface DomainErrorOptions {
  /** Which input field was wrong, e.g. `ttl`. */
  field?: string;
  /** Seconds after which a retry may succeed (429/503). */
  retryAfterSeconds?: number;
  /**
   * RFC 7807 extension members the caller can act on (e.g. the id of what already exists), added
   * to the problem as they are. Never a secret value: problems are logged and shown.
   */
  members?: Readonly<Record<string, string | number | boolean>>;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly field?: string;
  readonly retryAfterSeconds?: number;
  readonly members?: Readonly<Record<string, string | number | boolean>>;

  constructor(
    readonly kind: ErrorKind,
    /** Stable, kebab-case: clients may switch on it. */
    readonly code: string,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.members = options.members;
  }
}
