import type { AuditRecord } from '@rotor/contracts';

import { canonicalJson } from './canonical-json';
import { ChainVerifier, GENESIS, REPEAT_WINDOW, sealRecord } from './chain';

const KEY = 'audit-key-for-tests-0123456789abcdef';

const chainOf = (length: number, chain = 'rotor.lease.issued.v1:0'): AuditRecord[] => {
  const records: AuditRecord[] = [];
  for (let seq = 0; seq < length; seq++) {
    records.push(
      sealRecord(KEY, {
        seq,
        chain,
        sourceTopic: 'rotor.lease.issued.v1',
        sourcePartition: 0,
        sourceOffset: String(seq),
        eventId: `event-${seq}`,
        eventType: 'rotor.lease.issued.v1',
        known: true,
        recordedAt: new Date(Date.UTC(2026, 10, 27, 0, 0, seq)).toISOString(),
        event: { id: `event-${seq}`, data: { leaseId: `lease-${seq}` } },
        prev: records[seq - 1]?.hash ?? GENESIS,
      }),
    );
  }
  return records;
};

const verify = (records: AuditRecord[], key = KEY) => {
  const verifier = new ChainVerifier(key);
  records.forEach((record, index) => verifier.add({ record, partition: 0, offset: String(index) }));
  return verifier.result();
};

describe('audit chain', () => {
  it('verifies an untouched chain', () => {
    expect(verify(chainOf(5))).toMatchObject({ ok: true, records: 5, chains: 1 });
  });

  it('reports the exact position of a record whose content was altered', () => {
    const records = chainOf(5);
    records[3] = { ...records[3]!, event: { id: 'event-3', data: { leaseId: 'someone-else' } } };
    expect(verify(records)).toMatchObject({ ok: false, firstBreak: { offset: '3', seq: 3, reason: expect.stringMatching(/hash/) } });
  });

  it('reports a removed record as a gap', () => {
    const records = chainOf(5);
    records.splice(2, 1);
    expect(verify(records)).toMatchObject({ ok: false, firstBreak: { offset: '2', reason: 'expected seq 2, found 3' } });
  });

  it('refuses a chain sealed with another key', () => {
    expect(verify(chainOf(2), 'another-key-0123456789abcdef012345')).toMatchObject({ ok: false, firstBreak: { seq: 0 } });
  });

  it('skips a byte-identical retry of the last record rather than calling it a break', () => {
    const records = chainOf(3);
    expect(verify([records[0]!, records[1]!, records[1]!, records[2]!])).toMatchObject({ ok: true, records: 3, duplicatesSkipped: 1 });
  });

  it('skips a batch appended again after a crash, whole or in part, then goes on from the head', () => {
    const records = chainOf(7);
    const log = [...records.slice(0, 5), ...records.slice(2, 5), ...records.slice(2, 4), ...records.slice(5)];
    expect(verify(log)).toMatchObject({ ok: true, records: 7, duplicatesSkipped: 5 });
  });

  it('calls an earlier seq with another record a break: a fork, not a repeat', () => {
    const records = chainOf(4);
    const fork = sealRecord(KEY, { ...records[2]!, eventId: 'forked', hash: undefined } as never);
    expect(verify([...records, fork])).toMatchObject({ ok: false, firstBreak: { offset: '4', seq: 2, reason: 'expected seq 4, found 2' } });
  });

  it('calls a repeat a break once it is further back than the repeat window', () => {
    const records = chainOf(REPEAT_WINDOW + 2);
    expect(verify([...records, records[1]!])).toMatchObject({ ok: false, firstBreak: { seq: 1 } });
    expect(verify([...records, records[2]!])).toMatchObject({ ok: true, duplicatesSkipped: 1 });
  });

  it('keeps chains of different partitions apart', () => {
    const a = chainOf(3, 'a:0');
    const b = chainOf(3, 'b:1');
    expect(verify([a[0]!, b[0]!, a[1]!, b[1]!, b[2]!, a[2]!])).toMatchObject({ ok: true, chains: 2, records: 6 });
  });

  it('hashes canonical JSON, so key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: undefined } })).toBe('{"a":{"d":[1,{"e":3,"f":2}]},"b":1}');
  });
});

describe('verifying from a point in the log', () => {
  it('anchors each chain at its first record seen, and still catches an altered record after it', () => {
    const records = chainOf(6);
    const suffix = records.slice(3);
    const anchored = new ChainVerifier(KEY, new Map(), true);
    suffix.forEach((record, index) => anchored.add({ record, partition: 0, offset: String(index + 3) }));
    expect(anchored.result()).toMatchObject({ ok: true, records: 3, anchoredChains: 1 });

    const tampered = [suffix[0]!, { ...suffix[1]!, eventId: 'forged' }, suffix[2]!];
    const verifier = new ChainVerifier(KEY, new Map(), true);
    expect(tampered.map((record, index) => verifier.add({ record, partition: 0, offset: String(index + 3) }))).toEqual([
      'ok',
      'broken',
      'broken',
    ]);
    expect(verifier.result().firstBreak).toMatchObject({ offset: '4', seq: 4 });
  });

  it('starting inside a run that was appended again, skips the repeat of records before the anchor', () => {
    const records = chainOf(7);
    const log = [...records.slice(0, 5), ...records.slice(2, 5), ...records.slice(5)];
    const verifier = new ChainVerifier(KEY, new Map(), true);
    log.slice(3).forEach((record, index) => verifier.add({ record, partition: 0, offset: String(index + 3) }));
    expect(verifier.result()).toMatchObject({ ok: true, records: 4, duplicatesSkipped: 3, anchoredChains: 1 });

    const forged = { ...records[2]!, eventId: 'forged' };
    const strict = new ChainVerifier(KEY, new Map(), true);
    expect([records[3]!, records[4]!, forged].map((record, index) => strict.add({ record, partition: 0, offset: String(index) }))).toEqual([
      'ok',
      'ok',
      'broken',
    ]);
  });

  it('without anchoring, a log that starts mid-chain is a break', () => {
    const verifier = new ChainVerifier(KEY);
    expect(verifier.add({ record: chainOf(3)[2]!, partition: 0, offset: '0' })).toBe('broken');
  });
});
