import { RotorProblemError, RotorUnavailableError } from '@rotor/client';
import { ConfigError } from '@rotor/config';

/**
 * What `rotor` exits with, the same for every command (docs/cli.md has the table). Scripts can
 * tell "rotor answered no" (1) from "you called it wrongly" (2), "who you are is not enough" (3)
 * and "try again later" (4).
 */
export const ExitCode = {
  ok: 0,
  /** The command worked and found something: findings, drift, a broken chain, a declined confirmation. */
  findings: 1,
  /** How it was called: unknown command or flag, a missing or invalid value, input the service refused as invalid (400, 422). */
  usage: 2,
  /** Not signed in, the sign-in expired, or the token lacks the group the route needs (401, 403). */
  auth: 3,
  /** rotor could not answer: connection refused, TLS failure, timeout, 429, 5xx. Retrying later may work. */
  unavailable: 4,
  /** Part of the work failed: leases an emergency rotation could not revoke, files a scan could not read. */
  partial: 5,
  /** What the command names does not exist, or conflicts with what does (404, 409, 410). */
  notFound: 6,
  /** Anything else: a defect in rotor; the message says what happened. */
  internal: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure that carries its own exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** A mistake in how the command was called (exit 2), not a failure of rotor. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** rotor, or the provider, could not be reached or did not answer in time (exit 4). */
export class UnavailableError extends CliError {
  constructor(
    message: string,
    /** Worth asking again: refused or reset connections and timeouts are; an untrusted certificate is not. */
    readonly transient: boolean,
  ) {
    super(message, ExitCode.unavailable);
  }
}

/** A rotor API error (a @rotor/client RotorProblemError) as the CLI shows it: the problem's title, detail and code, never a stack. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; code?: string; field?: string },
  ) {
    super(
      `${status} ${problem.title ?? 'error'}: ${problem.detail ?? ''}${problem.code ? ` [${problem.code}]` : ''}`,
      exitCodeForStatus(status),
    );
  }
}

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 404 || status === 409 || status === 410) return ExitCode.notFound;
  if (status === 408 || status === 429 || status >= 500) return ExitCode.unavailable;
  if (status >= 400) return ExitCode.usage;
  return ExitCode.internal;
}

/** Kafka client failures that mean the brokers could not be reached (`rotor audit replay|tail`). */
const KAFKA_UNREACHABLE = /^KafkaJS(Connection|NumberOfRetriesExceeded|Timeout|RequestTimeout|BrokerNotFound)Error$/;

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof RotorProblemError) return exitCodeForStatus(error.status);
  if (error instanceof RotorUnavailableError) return ExitCode.unavailable;
  if (error instanceof ConfigError) return ExitCode.usage;
  if (error instanceof Error && KAFKA_UNREACHABLE.test(error.name)) return ExitCode.unavailable;
  return ExitCode.internal;
}
