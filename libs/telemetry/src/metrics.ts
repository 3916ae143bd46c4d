import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The default label naming the rotor service on every sample. */
export const SERVICE_LABEL = 'rotor_service';

/**
 * One Prometheus registry per service. Label values are identifiers such as topic names
 * or backends, never secret values. The service's own label is `rotor_service`, not `service`:
 * Prometheus attaches a `service` target label (the Kubernetes Service a ServiceMonitor scraped),
 * which would clash with it.
 */
export class Metrics {
  readonly registry = new Registry();

  constructor(service: string) {
    this.registry.setDefaultLabels({ [SERVICE_LABEL]: service });
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

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ): Histogram<L> {
    return this.existing(name) ?? new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(name) as T | undefined;
  }
}
