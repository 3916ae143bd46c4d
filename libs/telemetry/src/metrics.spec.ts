import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, TracerProvider } from '@opentelemetry/sdk-trace';

import { sampleValue } from './exposition';
import { Metrics, metricsFormatFor, traceExemplar } from './metrics';

describe('Metrics', () => {
  it('labels every sample rotor_service, never service (the target label Prometheus sets for a scraped Service)', async () => {
    const metrics = new Metrics('issuer');
    metrics.counter('rotor_probe_total', 'probe', ['outcome']).inc({ outcome: 'ok' });
    metrics.gauge('rotor_probe_level', 'probe').set(3);
    const text = await metrics.render();
    expect(text).toContain('rotor_probe_total{outcome="ok",rotor_service="issuer"} 1');
    expect(text).toContain('rotor_probe_level{rotor_service="issuer"} 3');
    expect(text).not.toMatch(/[{,]service="/);
  });

  it('exports a sampled gauge when its sample reads, and no sample at a scrape where it cannot', async () => {
    const metrics = new Metrics('auditor');
    const readings: (number | undefined)[] = [7, undefined, 0];
    metrics.gauge('rotor_probe_lag', 'probe', [], async () => readings.shift());
    const line = /^rotor_probe_lag\{rotor_service="auditor"\} (\S+)$/m;
    expect(line.exec(await metrics.render())?.[1]).toBe('7');
    const unread = await metrics.render();
    expect(unread).toContain('# TYPE rotor_probe_lag gauge');
    expect(unread).not.toMatch(/^rotor_probe_lag[{ ]/m);
    expect(line.exec(await metrics.render())?.[1]).toBe('0');
  });

  it('exports exactly the series a multi-series gauge read at a scrape, and none when it could not read', async () => {
    const metrics = new Metrics('revoker');
    const readings = [
      [
        { labels: { state: 'pending' }, value: 4 },
        { labels: { state: 'done' }, value: 1 },
      ],
      undefined,
      [{ labels: { state: 'done' }, value: 5 }],
    ];
    metrics.gaugeSeries('rotor_probe_items', 'probe', ['state'], async () => readings.shift());
    const first = await metrics.render();
    expect(first).toContain('rotor_probe_items{state="pending",rotor_service="revoker"} 4');
    expect(first).toContain('rotor_probe_items{state="done",rotor_service="revoker"} 1');
    expect(await metrics.render()).not.toMatch(/^rotor_probe_items\{/m);
    const third = await metrics.render();
    expect(third).toContain('rotor_probe_items{state="done",rotor_service="revoker"} 5');
    expect(third).not.toContain('state="pending"');
  });

  it('hands back the metric already registered under a name', () => {
    const metrics = new Metrics('issuer');
    expect(metrics.counter('rotor_probe_total', 'probe')).toBe(metrics.counter('rotor_probe_total', 'probe'));
  });
});

describe('Metrics exposition formats', () => {
  it('renders the text format by default and OpenMetrics on request, counters keeping their _total in both', async () => {
    const metrics = new Metrics('issuer');
    metrics.counter('rotor_probe_total', 'probe', ['outcome']).inc({ outcome: 'ok' });
    const open = await metrics.render('openmetrics');
    expect(open).toContain('# TYPE rotor_probe counter');
    expect(open).toContain('rotor_probe_total{outcome="ok",rotor_service="issuer"} 1');
    expect(open.endsWith('# EOF\n')).toBe(true);
    // prom-client's OpenMetrics render renames the counter it renders: the text format after it must not change.
    const text = await metrics.render();
    expect(text).toContain('# TYPE rotor_probe_total counter');
    expect(text).toContain('rotor_probe_total{outcome="ok",rotor_service="issuer"} 1');
    expect(text).not.toContain('# EOF');
    expect(metrics.contentType()).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.contentType('openmetrics')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
  });
});

describe('metricsFormatFor', () => {
  it.each([
    [undefined, 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    // Prometheus 3
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
      'openmetrics',
    ],
    ['text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5', 'prometheus'],
  ])('%s → %s', (accept, format) => expect(metricsFormatFor(accept)).toBe(format));
});

describe('latency histogram exemplars', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  const provider = new TracerProvider();
  const unsampled = new TracerProvider({ sampler: new AlwaysOffSampler() });

  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });

  afterAll(async () => {
    trace.disable();
    context.disable();
    await Promise.all([provider.shutdown(), unsampled.shutdown()]);
  });

  const bucketLine = (text: string, le: string) =>
    text.split('\n').find((line) => line.startsWith(`rotor_probe_seconds_bucket{le="${le}",`)) ?? '';

  it("carries the active span's trace id in OpenMetrics, and nothing in the text format", async () => {
    const metrics = new Metrics('revoker');
    const latency = metrics.latencyHistogram('rotor_probe_seconds', 'probe', [], [1, 5]);
    const traceId = await provider.getTracer('probe').startActiveSpan('revoke', async (span) => {
      await Promise.resolve();
      latency.observe({}, 0.4);
      span.end();
      return span.spanContext().traceId;
    });
    latency.observe({}, 3);
    const open = await metrics.render('openmetrics');
    expect(bucketLine(open, '1')).toMatch(new RegExp(` 1 # \\{trace_id="${traceId}"\\} 0\\.4 \\d+(\\.\\d+)?$`));
    // Observed outside any span: counted, without an exemplar.
    expect(bucketLine(open, '5')).toMatch(/ 2$/);
    const text = await metrics.render();
    expect(text).toContain('rotor_probe_seconds_count{rotor_service="revoker"} 2');
    expect(text).not.toContain('trace_id');
  });

  it('has no exemplar outside a span, or for a trace the sampler dropped', () => {
    expect(traceExemplar()).toEqual({});
    unsampled.getTracer('probe').startActiveSpan('dropped', (span) => {
      expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceExemplar()).toEqual({});
      span.end();
    });
    provider.getTracer('probe').startActiveSpan('kept', (span) => {
      expect(traceExemplar()).toEqual({ trace_id: span.spanContext().traceId });
      span.end();
    });
  });
});

describe('sampleValue', () => {
  it('finds a sample by name and some of its labels, in either exposition format, exemplar or not', () => {
    const text = [
      '# TYPE rotor_http_requests counter',
      'rotor_http_requests_total{method="GET",route="/v1/leases/:id",status="200",rotor_service="issuer"} 3',
      'rotor_revocation_lag_seconds_bucket{le="0.5",rotor_service="revoker"} 7 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.2',
    ].join('\n');
    expect(sampleValue(text, 'rotor_http_requests_total', { status: '200', method: 'GET' })).toBe(3);
    expect(sampleValue(text, 'rotor_revocation_lag_seconds_bucket', { le: '0.5' })).toBe(7);
    expect(sampleValue(text, 'rotor_http_requests_total', { status: '500' })).toBeUndefined();
    expect(sampleValue(text, 'rotor_http_requests')).toBeUndefined();
  });
});
