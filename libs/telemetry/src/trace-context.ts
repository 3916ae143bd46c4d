import { randomBytes } from 'node:crypto';

import { context, propagation } from '@opentelemetry/api';

/** W3C Trace Context: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export const isTraceparent = (value: string | undefined): value is string =>
  !!value && TRACEPARENT.test(value) && !/^00-0{32}-/.test(value) && !/-0{16}-/.test(value);

/**
 * The traceparent for an outgoing message: the active OpenTelemetry context when an SDK is
 * registered; otherwise a child of `parent` (same trace, new span), or a new trace.
 */
export function outgoingTraceparent(parent?: string): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (isTraceparent(carrier['traceparent'])) return carrier['traceparent'];
  const match = parent ? TRACEPARENT.exec(parent) : null;
  const traceId = match?.[1] ?? randomBytes(16).toString('hex');
  const flags = match?.[3] ?? '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

export const traceIdOf = (traceparent: string | undefined): string | undefined =>
  traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
