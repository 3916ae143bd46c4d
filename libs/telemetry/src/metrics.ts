import { isSpanContextValid, trace, TraceFlags } from '@opentelemetry/api';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type LabelValues,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  type OpenMetricsContentType,
  type RegistryContentType,
} from 'prom-client';

/** The default label naming the rotor service on every sample. */
export const SERVICE_LABEL = 'rotor_service';

/** `prometheus` is the classic text format (0.0.4); `openmetrics` adds exemplars. */
export type MetricsFormat = 'prometheus' | 'openmetrics';

const CONTENT_TYPES: Record<MetricsFormat, RegistryContentType> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/**
 * The format a scraper's Accept header prefers: OpenMetrics only when it ranks
 * `application/openmetrics-text` above the text format (Prometheus does); the text format otherwise.
 * Parameters such as `version` and `escaping` are not matched: both formats are served in one version.
 */
export function metricsFormatFor(accept: string | undefined): MetricsFormat {
  let openMetrics = 0;
  let text = 0;
  for (const entry of (accept ?? '').split(',')) {
    const [type = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
    const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
    const q = qParameter ? Number(qParameter.slice(2)) || 0 : 1;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return openMetrics > text ? 'openmetrics' : 'prometheus';
}

/** Labels of an exemplar: the trace an observation belongs to, or none. */
export type ExemplarLabels = Partial<Record<'trace_id', string>>;

/**
 * The active span's trace id, as exemplar labels. Empty (no exemplar) without a span, and for
 * a trace the sampler dropped: its id would lead to no trace in the backend.
 */
export function traceExemplar(): ExemplarLabels {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) && (span.traceFlags & TraceFlags.SAMPLED) !== 0 ? { trace_id: span.traceId } : {};
}

/** A latency histogram whose observations carry the trace they were made in as an exemplar. */
export class LatencyHistogram<L extends string> {
  constructor(private readonly histogram: Histogram<L>) {}

  /** `exemplar` defaults to the active trace; pass one captured earlier when the span has ended. */
  observe(labels: LabelValues<L>, seconds: number, exemplar: ExemplarLabels = traceExemplar()): void {
    this.histogram.observe({ labels, value: seconds, exemplarLabels: exemplar as LabelValues<L> });
  }
}

/** One series of a {@link Metrics.gaugeSeries} scrape. */
export interface GaugeSample<L extends string> {
  labels: LabelValues<L>;
  value: number;
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * One Prometheus registry per service. Label values are identifiers such as topic names
 * or backends, never secret values. The service's own label is `rotor_service`, not `service`:
 * Prometheus attaches a `service` target label (the Kubernetes Service a ServiceMonitor scraped),
 * which would clash with it.
 */
export class Metrics {
  // OpenMetrics-typed because prom-client accepts exemplar histograms only there; render() picks the format per scrape.
  private readonly registry = new Registry<OpenMetricsContentType>();
  private readonly defaultLabels: Record<string, string>;
  private readonly latencies = new Map<string, LatencyHistogram<string>>();

  constructor(service: string) {
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.defaultLabels = { [SERVICE_LABEL]: service };
    this.registry.setDefaultLabels(this.defaultLabels);
    collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.existing(name) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A gauge; `sample` is called at scrape time for values read from elsewhere (e.g. Redis).
   * A sample of `undefined` (the value could not be read) exports no sample for that scrape:
   * a made-up value such as -1 or 0 would read as a real one.
   */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = [], sample?: () => Promise<number | undefined>): Gauge<L> {
    return (
      this.existing(name) ??
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        ...(sample
          ? {
              async collect(this: Gauge<L>) {
                const value = await sample();
                if (value === undefined) this.remove();
                else this.set(value);
              },
            }
          : {}),
      })
    );
  }

  /**
   * A gauge of several series read together at scrape time (e.g. one per state): each scrape
   * exports exactly the series `sample` returns, none when it returns `undefined`.
   */
  gaugeSeries<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    sample: () => Promise<readonly GaugeSample<L>[] | undefined>,
  ): Gauge<L> {
    return (
      this.existing(name) ??
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect(this: Gauge<L>) {
          const series = await sample();
          this.reset();
          for (const { labels, value } of series ?? []) this.set(labels, value);
        },
      })
    );
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets = DEFAULT_BUCKETS): Histogram<L> {
    return this.existing(name) ?? new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** A histogram with trace-id exemplars (seen by OpenMetrics scrapers): for latencies an SRE drills into. */
  latencyHistogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets = DEFAULT_BUCKETS,
  ): LatencyHistogram<L> {
    let latency = this.latencies.get(name);
    if (!latency) {
      latency = new LatencyHistogram(new Histogram({ name, help, labelNames, buckets, enableExemplars: true, registers: [this.registry] }));
      this.latencies.set(name, latency);
    }
    return latency;
  }

  /**
   * The exposition in `format`, through a registry of that format over the same metrics.
   * prom-client's OpenMetrics render renames counters (drops `_total`) on the metric itself,
   * so it gets a view of each counter to rename instead.
   */
  render(format: MetricsFormat = 'prometheus'): Promise<string> {
    const view = new Registry<RegistryContentType>();
    view.setContentType(CONTENT_TYPES[format]);
    view.setDefaultLabels(this.defaultLabels);
    for (const metric of this.registry.getMetricsAsArray() as unknown as Metric[]) {
      view.registerMetric(format === 'openmetrics' && metric instanceof Counter ? (Object.create(metric) as Metric) : metric);
    }
    return view.metrics();
  }

  /** Every metric with its current values, default labels included: for tests and tools that read values. */
  json(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.registry.getMetricsAsJSON();
  }

  /** The value of the series of `name` whose labels include `labels`; undefined when there is none. */
  async valueOf(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const metric = (await this.json()).find((entry) => entry.name === name);
    return metric?.values.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))?.value;
  }

  contentType(format: MetricsFormat = 'prometheus'): string {
    return CONTENT_TYPES[format];
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(name) as T | undefined;
  }
}
