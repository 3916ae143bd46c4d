import { traceTree } from './trace';

const span = (
  spanID: string,
  operationName: string,
  startTime: number,
  duration: number,
  parent?: string,
  tags: { key: string; value: unknown }[] = [],
) => ({
  spanID,
  operationName,
  startTime,
  duration,
  references: parent ? [{ refType: 'CHILD_OF', spanID: parent }] : [],
  tags,
  processID: spanID.startsWith('r') ? 'p2' : 'p1',
});

describe('traceTree', () => {
  it('orders a Jaeger trace depth first, siblings by start, times from the first span, errors marked', () => {
    const tree = traceTree({
      data: [
        {
          spans: [
            span('r1', 'revoke lease', 5_000_000, 3_000, 'i2'),
            span('i1', 'POST /v1/credentials', 1_000_000, 12_000, 'caller'),
            span('i3', 'EVALSHA', 1_001_000, 500, 'i1'),
            span('i2', 'send lease.issued', 1_008_000, 2_000, 'i1'),
            span('r2', 'send lease.revoked', 5_002_000, 700, 'r1', [{ key: 'otel.status_code', value: 'ERROR' }]),
          ],
          processes: { p1: { serviceName: 'rotor-issuer' }, p2: { serviceName: 'rotor-revoker' } },
        },
      ],
    });
    expect(
      tree.map(
        (entry) =>
          `${'  '.repeat(entry.depth)}${entry.operation} ${entry.service} +${entry.startMs} ${entry.durationMs}${entry.error ? ' error' : ''}`,
      ),
    ).toEqual([
      'POST /v1/credentials rotor-issuer +0 12',
      '  EVALSHA rotor-issuer +1 0.5',
      '  send lease.issued rotor-issuer +8 2',
      '    revoke lease rotor-revoker +4000 3',
      '      send lease.revoked rotor-revoker +4002 0.7 error',
    ]);
    // The caller's own span is not in the trace: its child is a root.
    expect(tree[0]!.parentSpanId).toBeUndefined();
  });

  it('is empty for a trace Jaeger does not have', () => {
    expect(traceTree({ data: null })).toEqual([]);
    expect(traceTree({ data: [] })).toEqual([]);
  });
});
