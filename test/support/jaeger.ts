import { requiredEnv } from './services-env';

/** A span as Jaeger's query API answers it (GET /api/traces/{id}). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}

export interface Trace {
  spans: (JaegerSpan & { service: string; parentSpanID?: string })[];
  /** The raw answer: what a canary check scans. */
  json: string;
}

/** One trace from the local Jaeger (scripts/services-up.sh), or undefined while it has none by that id. */
export async function fetchTrace(traceId: string): Promise<Trace | undefined> {
  const response = await fetch(`${requiredEnv('ROTOR_JAEGER_QUERY_URL')}/api/traces/${traceId}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Jaeger answered ${response.status} for trace ${traceId}`);
  const json = await response.text();
  const body = JSON.parse(json) as {
    data: { spans: JaegerSpan[]; processes: Record<string, { serviceName: string }> }[] | null;
  };
  const found = body.data?.[0];
  if (!found) return undefined;
  return {
    json,
    spans: found.spans.map((span) => {
      const parent = span.references.find((reference) => reference.refType === 'CHILD_OF');
      return { ...span, service: found.processes[span.processID]?.serviceName ?? '?', ...(parent ? { parentSpanID: parent.spanID } : {}) };
    }),
  };
}

/** A W3C traceparent of a new trace the test owns, and its trace id to look it up by. */
export function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}
