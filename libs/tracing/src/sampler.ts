import { SpanKind, trace, type Attributes, type Context, type Link } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';

/**
 * The sampler the standard variables name (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG), as the
 * OpenTelemetry SDK specification defines them; the SDK's own env reading went with sdk-trace-node.
 * Default: parentbased_always_on. A name or ratio it does not know is an error, not a silent default.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = (env['OTEL_TRACES_SAMPLER'] ?? 'parentbased_always_on').trim().toLowerCase();
  const ratio = () => {
    const raw = env['OTEL_TRACES_SAMPLER_ARG'];
    if (raw === undefined || raw.trim() === '') return 1;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 1)
      throw new Error(`OTEL_TRACES_SAMPLER_ARG: a ratio between 0 and 1 is needed for ${name}, got "${raw}"`);
    return value;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER: "${name}" is not one of always_on, always_off, traceidratio, parentbased_always_on, ` +
          'parentbased_always_off, parentbased_traceidratio',
      );
  }
}

/**
 * Outgoing calls made outside any traced operation (a readiness probe's GSM ListSecrets every
 * 500 ms, a JWKS refresh, a claim loop's Redis poll) start no trace: they would bury the traces
 * people look for, and cost CPU at idle. Everything else is the configured sampler's call.
 */
export class NoRootClientSpans implements Sampler {
  constructor(private readonly next: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (spanKind === SpanKind.CLIENT && !trace.getSpanContext(context)) return { decision: SamplingDecision.NOT_RECORD };
    return this.next.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `NoRootClientSpans{${this.next.toString()}}`;
  }
}
