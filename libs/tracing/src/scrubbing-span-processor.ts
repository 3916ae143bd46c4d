import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

import { sqlVerb, withoutQuery } from './safe-attributes';

/** Attributes that hold a URL (old and stable HTTP semantic conventions). */
const URL_ATTRIBUTES = ['http.url', 'http.target', 'url.full'];
/** Attributes dropped whatever they hold: a query string, or a statement with its values. */
const DROPPED_ATTRIBUTES = ['url.query', 'db.query.parameter', 'db.statement.parameters'];
const STATEMENT_ATTRIBUTES = ['db.statement', 'db.query.text'];

/**
 * The last word on what a span may carry, whatever an instrumentation recorded: URLs lose their
 * query, SQL keeps its verb only, Redis its command name (set by the instrumentation's serializer
 * and kept here). Runs before the exporter's processor, on every span.
 */
export class ScrubbingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    scrubAttributes(span.attributes, span.attributes['db.system'] ?? span.attributes['db.system.name']);
    this.next.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

export function scrubAttributes(attributes: Record<string, unknown>, dbSystem?: unknown): void {
  for (const key of URL_ATTRIBUTES) if (typeof attributes[key] === 'string') attributes[key] = withoutQuery(attributes[key]);
  for (const key of DROPPED_ATTRIBUTES) delete attributes[key];
  for (const key of STATEMENT_ATTRIBUTES) {
    const value = attributes[key];
    if (typeof value !== 'string') continue;
    // Redis statements are the command name already (redisStatement); anything else keeps its verb.
    attributes[key] = dbSystem === 'redis' ? (value.split(/\s+/, 1)[0] ?? '').toUpperCase() : sqlVerb(value);
  }
}
