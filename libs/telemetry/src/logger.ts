import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are never written to a log, wherever they appear (two levels
 * deep). The first defence is not to log values at all; this catches mistakes.
 */
export const REDACTED_FIELDS = [
  'token',
  'password',
  'value',
  'secret',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'payload',
  'plaintext',
] as const;

const redactPaths = REDACTED_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]).concat([
  'req.headers.authorization',
  'req.headers.cookie',
]);

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where to write; a file descriptor or stream. Defaults to stdout. */
  destination?: pino.DestinationStream;
}

export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
