import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

/**
 * Trace context kept beyond a call: a lease's revocation minutes after its issuance, an
 * emergency run's worker, a queued delivery. The W3C `traceparent` is what is stored (the
 * propagator writes and reads it); with no SDK running there is none, and nothing is stored.
 */
export function traceparentOf(from: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier['traceparent'];
}

/** The context a stored `traceparent` continues; the root context when there is none. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The trace id of the active span, for a log line or an exemplar; undefined when nothing is traced. */
export function activeTraceId(): string | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export interface SpanOptions {
  /** The parent: a stored trace (contextFromTraceparent) or, by default, the active context. */
  parent?: Context;
  kind?: SpanKind;
  /** Ids and kinds only: never a secret value or a token. */
  attributes?: Attributes;
}

const tracer = () => trace.getTracer('rotor');

/**
 * Runs `work` in a new active span that ends when it settles; a failure marks the span with
 * the error's name (not its message, which could quote what failed).
 */
export function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        markFailed(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

export function markFailed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
}
