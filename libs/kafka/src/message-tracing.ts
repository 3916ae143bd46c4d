import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

/**
 * Kafka spans and trace propagation, after the OpenTelemetry messaging semantic conventions:
 * a `send <topic>` producer span per publish, its context in every message's headers
 * (`traceparent`, `tracestate`), and a `process <topic>` consumer span per message, child of the
 * producer's. Written against @opentelemetry/api only: without an SDK every call is a no-op.
 * Attributes are topics, partitions, offsets, event ids and keys (entity ids), never values.
 */
const tracer = () => trace.getTracer('@rotor/kafka');

interface TracedMessage {
  topic: string;
  key: string | null;
  headers?: Record<string, string>;
}

/** The producer span of one publish, parented on `parent` (by default the caller's active context). */
export function startSendSpan(messages: readonly TracedMessage[], parent: Context): { span: Span; context: Context } {
  const topics = [...new Set(messages.map((message) => message.topic))];
  const only = messages.length === 1 ? messages[0] : undefined;
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    ...(topics.length === 1 ? { 'messaging.destination.name': topics[0] } : {}),
    ...(messages.length > 1 ? { 'messaging.batch.message_count': messages.length } : {}),
    ...(only?.headers?.['ce-id'] ? { 'messaging.message.id': only.headers['ce-id'] } : {}),
    ...(only?.key ? { 'messaging.kafka.message.key': only.key } : {}),
  };
  const span = tracer().startSpan(topics.length === 1 ? `send ${topics[0]}` : 'send', { kind: SpanKind.PRODUCER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** The headers with the context's trace written in (replacing any the message had). */
export function withTraceHeaders(headers: Record<string, string> | undefined, from: Context): Record<string, string> {
  const carrier: Record<string, string> = { ...headers };
  delete carrier['traceparent'];
  delete carrier['tracestate'];
  propagation.inject(from, carrier);
  return carrier;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  groupId: string;
  headers: Record<string, string>;
}

/** The consumer span of one message, child of the producer span its headers name. */
export function startProcessSpan(message: ConsumedMessage): { span: Span; context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, message.headers);
  const span = tracer().startSpan(
    `process ${message.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': message.topic,
        'messaging.destination.partition.id': String(message.partition),
        'messaging.kafka.offset': Number(message.offset),
        'messaging.consumer.group.name': message.groupId,
        ...(message.headers['ce-id'] ? { 'messaging.message.id': message.headers['ce-id'] } : {}),
        ...(message.key ? { 'messaging.kafka.message.key': message.key } : {}),
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span with the outcome: failures by kind only (an error message could quote what failed). */
export function endSpan(span: Span, failure?: string): void {
  if (failure) span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
  span.end();
}
