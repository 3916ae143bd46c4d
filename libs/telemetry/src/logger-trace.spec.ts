import { Writable } from 'node:stream';

import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

import { createLogger } from './logger';

const captured = () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { destination, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
};

describe('trace and span ids in log lines', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })] });
  const tracer = provider.getTracer('logger-spec');

  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('carries the active span ids, through an await, and none outside any span', async () => {
    const { destination, records } = captured();
    const logger = createLogger({ service: 'test', destination }).child({ component: 'spec' });
    logger.info('before');
    const ids = await tracer.startActiveSpan('work', async (span) => {
      logger.info('start');
      await new Promise((resolve) => setImmediate(resolve));
      logger.warn({ leaseId: 'lease-1' }, 'after an await');
      span.end();
      return span.spanContext();
    });
    logger.info('after');

    const [before, start, awaited, after] = records();
    expect(before).not.toHaveProperty('trace_id');
    expect(after).not.toHaveProperty('span_id');
    for (const line of [start, awaited]) {
      expect(line).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '01', component: 'spec' });
    }
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(awaited).toMatchObject({ leaseId: 'lease-1', msg: 'after an await' });
  });

  it('names the innermost span, and still redacts', () => {
    const { destination, records } = captured();
    const logger = createLogger({ service: 'test', destination });
    tracer.startActiveSpan('outer', (outer) => {
      tracer.startActiveSpan('inner', (inner) => {
        logger.info({ token: 'canary-9b2e', url: 'postgres://rotor:canary-9b2e@db/rotor' }, 'Bearer canary-9b2e');
        expect(records()[0]).toMatchObject({ trace_id: outer.spanContext().traceId, span_id: inner.spanContext().spanId });
        inner.end();
      });
      outer.end();
    });
    expect(JSON.stringify(records())).not.toContain('canary-9b2e');
  });

  it('writes no ids for an invalid span context (all-zero ids)', () => {
    const { destination, records } = captured();
    const logger = createLogger({ service: 'test', destination });
    context.with(
      trace.setSpan(context.active(), trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 })),
      () => logger.info('invalid'),
    );
    expect(records()[0]).not.toHaveProperty('trace_id');
  });
});
