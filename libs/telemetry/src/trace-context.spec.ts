import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

import { activeTraceId, contextFromTraceparent, inSpan, traceparentOf } from './trace-context';

describe('trace context', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  /** SimpleSpanProcessor exports asynchronously. */
  const finished = async () => {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  };

  it('stores nothing and finds no trace while no SDK runs', async () => {
    expect(traceparentOf()).toBeUndefined();
    expect(activeTraceId()).toBeUndefined();
    await inSpan('untraced', {}, () => {
      expect(traceparentOf()).toBeUndefined();
      return Promise.resolve();
    });
  });

  describe('with the SDK', () => {
    beforeAll(() => {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      trace.setGlobalTracerProvider(provider);
    });
    afterEach(() => exporter.reset());

    it('continues a stored traceparent minutes later as the parent of a new span', async () => {
      let stored: string | undefined;
      await inSpan('issue', {}, () => {
        stored = traceparentOf();
        return Promise.resolve();
      });
      expect(stored).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      const issuedSpan = (await finished())[0]!;

      let traceIdInside: string | undefined;
      await inSpan('revoke lease', { parent: contextFromTraceparent(stored), attributes: { 'rotor.lease.id': 'l-1' } }, () => {
        traceIdInside = activeTraceId();
        return Promise.resolve();
      });
      const revokeSpan = (await finished())[1]!;
      expect(traceIdInside).toBe(issuedSpan.spanContext().traceId);
      expect(revokeSpan.spanContext().traceId).toBe(issuedSpan.spanContext().traceId);
      expect(revokeSpan.parentSpanContext?.spanId).toBe(issuedSpan.spanContext().spanId);
      expect(revokeSpan.attributes).toEqual({ 'rotor.lease.id': 'l-1' });
    });

    it('starts a new trace when nothing was stored, and marks a failure by the error name only', async () => {
      await expect(
        inSpan('fails', { parent: contextFromTraceparent(undefined) }, () => Promise.reject(new TypeError('the value was s3cr3t'))),
      ).rejects.toThrow(TypeError);
      const [span] = await finished();
      expect(span!.parentSpanContext).toBeUndefined();
      expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TypeError' });
      expect(JSON.stringify(span!.attributes)).not.toContain('s3cr3t');
    });
  });
});
