import { createEvent, parseEvent, Topics } from './index';

const data = {
  secret: 'pay-key',
  version: 2,
  location: { kind: 'kubernetes-configmap' as const, namespace: 'payments', name: 'legacy', key: 'API_KEY' },
  discoveredAt: '2026-12-01T10:00:00.000Z',
};

describe('copy.discovered: who reported it', () => {
  it('carries the reporting principal and the scanner', () => {
    const event = createEvent({
      topic: Topics.copyDiscovered,
      source: '/rotor/distributor',
      subject: 'pay-key',
      data: { ...data, reportedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] }, scanner: 'cli-scan' },
    });
    expect(parseEvent(Topics.copyDiscovered, JSON.parse(JSON.stringify(event))).data).toMatchObject({
      reportedBy: { kind: 'operator', subject: 'sre@example.com' },
      scanner: 'cli-scan',
    });
  });

  it('reads an event written before the field existed as reported by an unknown principal', () => {
    const old = {
      specversion: '1.0',
      id: 'old-1',
      source: '/rotor/distributor',
      type: Topics.copyDiscovered,
      time: '2026-12-01T10:00:00.000Z',
      subject: 'pay-key',
      datacontenttype: 'application/json',
      data,
    };
    expect(parseEvent(Topics.copyDiscovered, old).data).toMatchObject({ reportedBy: { kind: 'unknown' }, scanner: 'unknown' });
  });

  it('refuses a reporter of an unknown kind', () => {
    expect(() =>
      createEvent({
        topic: Topics.copyDiscovered,
        source: '/t',
        subject: 'pay-key',
        data: { ...data, reportedBy: { kind: 'somebody' } as never, scanner: 'cluster-scan' },
      }),
    ).toThrow(/reportedBy/);
  });
});
