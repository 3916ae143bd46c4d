import { GENESIS, identifierKey, pseudonym, sealRecord } from '@rotor/audit-chain';
import { Topics } from '@rotor/contracts';

import { parseFilters } from './audit-filter';
import { ProgressReporter } from './audit-progress';
import { parseLogPoint } from './audit-reader';
import { ShownRecords } from './audit-tail';

const KEY = 'audit-key-for-tests-0123456789abcdef';
const record = sealRecord({
  seq: 0,
  chain: `${Topics.access}:0`,
  sourceTopic: Topics.access,
  sourcePartition: 0,
  sourceOffset: '0',
  eventId: 'e-1',
  eventType: Topics.access,
  known: true,
  recordedAt: '2026-11-27T10:00:00.000Z',
  event: {
    data: {
      actor: { kind: 'operator', subject: pseudonym(identifierKey(KEY), 'alice@example.com'), groups: [] },
      secret: 'pay-key',
      action: 'read-secret',
    },
  },
  prev: GENESIS,
});

const stream = (isTTY: boolean) => {
  const written: string[] = [];
  return { written, stream: { isTTY, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream };
};

describe('rotor audit replay', () => {
  it('filters by type, secret and an operator given in clear, all of them at once', () => {
    expect(parseFilters([`type=${Topics.access}`, 'secret=pay-key', 'actor=alice@example.com'], KEY)(record)).toBe(true);
    expect(parseFilters(['actor=mallory@example.com'], KEY)(record)).toBe(false);
    expect(parseFilters(['secret=other'], KEY)(record)).toBe(false);
    expect(() => parseFilters(['colour=blue'], KEY)).toThrow(/--filter colour=blue: expected one of type=/);
    expect(() => parseFilters(['actor=alice@example.com'], undefined)).toThrow(/ROTOR_AUDIT_KEY/);
  });

  it('takes --from as a time or as an offset', () => {
    expect(parseLogPoint('2026-11-27T10:00:00Z', 'from')).toEqual({ time: new Date('2026-11-27T10:00:00Z') });
    expect(parseLogPoint('1200', 'from')).toEqual({ offset: 1200n });
    expect(() => parseLogPoint('yesterday', 'from')).toThrow(/--from: expected an ISO time/);
  });

  it('draws a bar with events/s on a terminal, and plain lines otherwise', () => {
    const tty = stream(true);
    const bar = new ProgressReporter('records', tty.stream);
    bar.update(500, 1000);
    bar.update(1000, 1000);
    bar.finish();
    expect(tty.written.join('')).toMatch(/\r\[#{30}\] 100% {2}1,000\/1,000 records {2}[\d,]+ events\/s/);

    const plain = stream(false);
    const lines = new ProgressReporter('records', plain.stream, 60_000);
    lines.update(10, 1000);
    lines.update(500, 1000); // within a minute of the last line, and not the end: not printed
    lines.update(1000, 1000);
    expect(plain.written).toHaveLength(2);
    expect(plain.written.join('')).not.toContain('\r');
    expect(plain.written.at(-1)).toMatch(/^100% {2}1,000\/1,000 records/);
  });
});

describe('audit tail', () => {
  it('skips a record it printed already (a repeated run), but not another record at an old seq', () => {
    const shown = new ShownRecords();
    const record = (seq: number, hash: string) => ({ chain: 'rotor.lease.issued.v1:0', seq, hash });
    expect([record(0, 'a'), record(1, 'b'), record(0, 'a'), record(1, 'b'), record(2, 'c')].map((r) => shown.isRepeat(r))).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(shown.isRepeat(record(1, 'forked'))).toBe(false);
    expect(shown.isRepeat({ ...record(0, 'a'), chain: 'rotor.access.v1:0' })).toBe(false);
  });
});
