import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';

import { redisStatement, sqlVerb, withoutQuery } from './safe-attributes';
import { NoRootClientSpans, samplerFromEnv } from './sampler';
import { scrubAttributes } from './scrubbing-span-processor';
import { startTracing } from './tracing';

describe('samplerFromEnv', () => {
  it('follows OTEL_TRACES_SAMPLER and its ratio, parent-based always-on by default', () => {
    expect(samplerFromEnv({}).toString()).toBe(new ParentBasedSampler({ root: new AlwaysOnSampler() }).toString());
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' })).toBeInstanceOf(AlwaysOffSampler);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }).toString()).toBe(
      new TraceIdRatioBasedSampler(0.1).toString(),
    );
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).toString()).toContain(
      'TraceIdRatioBased{0.25}',
    );
  });

  it('refuses a sampler or ratio it does not know instead of guessing', () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(/OTEL_TRACES_SAMPLER: "jaeger_remote"/);
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '10%' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
  });
});

describe('NoRootClientSpans', () => {
  it('starts no trace for an outgoing call outside a traced operation, and leaves the rest to the sampler', () => {
    const tracer = new TracerProvider({ sampler: new NoRootClientSpans(new AlwaysOnSampler()) }).getTracer('test');
    expect(tracer.startSpan('ListSecrets', { kind: SpanKind.CLIENT }, ROOT_CONTEXT).isRecording()).toBe(false);
    const request = tracer.startSpan('POST /v1/credentials', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    expect(request.isRecording()).toBe(true);
    expect(tracer.startSpan('EVALSHA', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, request)).isRecording()).toBe(true);
    expect(tracer.startSpan('send lease.issued', { kind: SpanKind.PRODUCER }, ROOT_CONTEXT).isRecording()).toBe(true);
  });
});

describe('what spans may carry', () => {
  it('keeps a Redis command name, an SQL verb and a URL without its query', () => {
    expect(redisStatement('acl')).toBe('ACL');
    expect(sqlVerb(`CREATE ROLE "rotor_x" LOGIN PASSWORD 'canary-password' IN ROLE app`)).toBe('CREATE ROLE');
    expect(sqlVerb('/* rotor */ select 1')).toBe('SELECT');
    expect(sqlVerb(`'; DROP`)).toBe('QUERY');
    expect(withoutQuery('https://hooks.example/deliver?token=canary#x')).toBe('https://hooks.example/deliver');
  });

  it('scrubs whatever an instrumentation recorded', () => {
    const attributes: Record<string, unknown> = {
      'http.url': 'https://127.0.0.1:8080/v1/x?token=canary',
      'http.target': '/v1/x?token=canary',
      'url.full': 'https://kube/api?watch=1&token=canary',
      'url.query': 'token=canary',
      'db.statement': `ALTER ROLE "r" PASSWORD 'canary'`,
      'db.query.text': `SELECT 'canary'`,
      'rotor.lease.id': 'l-1',
    };
    scrubAttributes(attributes, 'postgresql');
    expect(attributes).toEqual({
      'http.url': 'https://127.0.0.1:8080/v1/x',
      'http.target': '/v1/x',
      'url.full': 'https://kube/api',
      'db.statement': 'ALTER ROLE',
      'db.query.text': 'SELECT',
      'rotor.lease.id': 'l-1',
    });
    const redis: Record<string, unknown> = { 'db.statement': 'set revoker:lease:{l-1} canary' };
    scrubAttributes(redis, 'redis');
    expect(redis).toEqual({ 'db.statement': 'SET' });
  });
});

describe('startTracing', () => {
  it('stays off when disabled, and when no OTLP endpoint is configured', () => {
    expect(
      startTracing({ service: 'issuer', env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://127.0.0.1:4318' } }),
    ).toBe(false);
    expect(startTracing({ service: 'issuer', env: {} })).toBe(false);
    expect(startTracing({ service: 'issuer', env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://x' } })).toBe(
      false,
    );
  });
});
