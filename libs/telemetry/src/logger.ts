import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

import { redactSecrets, redactText } from './redaction';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where to write; a file descriptor or stream. Defaults to stdout. */
  destination?: pino.DestinationStream;
}

export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: traceFields,
      // By field name at any depth (pino's redact paths are fixed depths).
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
      // A message built from a connection string or an Authorization header loses the secret part.
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
  // pino resets the bindings formatter for children, so child bindings are redacted here; every
  // descendant inherits this method from the root, and calls it on itself.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound to each caller below
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactSecrets(bindings), options);
  } as typeof child;
  return logger;
}

/**
 * The active span's ids on every line written inside it, named as the OpenTelemetry log data
 * model and its pino instrumentation name them, so a log line leads to its trace and back.
 */
function traceFields(): { trace_id?: string; span_id?: string; trace_flags?: string } {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId, trace_flags: `0${span.traceFlags.toString(16)}`.slice(-2) };
}
