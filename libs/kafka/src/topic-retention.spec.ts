import { DAY_MS, retentionProblems, topicRetentionConfig } from './topic-retention';

const need = { retentionMs: 8 * DAY_MS };

describe('topic retention rules', () => {
  it('creates the audit log to keep everything and every other topic for the required time, by time only', () => {
    expect(topicRetentionConfig('rotor.audit.log.v1', need)).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': '-1',
      'retention.bytes': '-1',
    });
    expect(topicRetentionConfig('rotor.lease.issued.v1', need)).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': String(8 * DAY_MS),
      'retention.bytes': '-1',
    });
  });

  it('refuses an audit log that deletes by time or size, or compacts, naming each setting', () => {
    expect(
      retentionProblems(
        'rotor.audit.log.v1',
        { 'retention.ms': '604800000', 'retention.bytes': '1073741824', 'cleanup.policy': 'compact,delete' },
        need,
      ),
    ).toEqual([
      'rotor.audit.log.v1: retention.ms is 604800000, so audit records would be deleted; it must be -1',
      'rotor.audit.log.v1: retention.bytes is 1073741824; it must be -1',
      'rotor.audit.log.v1: cleanup.policy is compact,delete; the audit log must never be compacted',
    ]);
  });

  it('accepts a domain topic that keeps records at least as long as needed, or forever', () => {
    expect(retentionProblems('rotor.access.v1', { 'retention.ms': String(30 * DAY_MS), 'retention.bytes': '-1' }, need)).toEqual([]);
    expect(retentionProblems('rotor.access.v1', { 'retention.ms': '-1', 'retention.bytes': '-1' }, need)).toEqual([]);
    expect(retentionProblems('rotor.access.v1', { 'retention.ms': String(DAY_MS), 'retention.bytes': '-1' }, need)).toEqual([
      `rotor.access.v1: retention.ms is ${DAY_MS}, shorter than the ${8 * DAY_MS} ms rotor needs`,
    ]);
  });
});
